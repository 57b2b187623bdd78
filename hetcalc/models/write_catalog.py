"""``python -m hetcalc.models.write_catalog``: write ``hetcalc/catalog.json`` from the registry,
stamped with the installed torchvision release (see :mod:`hetcalc.catalog`)."""

from __future__ import annotations

import json
from pathlib import Path

from hetcalc.catalog import CATALOG, installed_torchvision
from hetcalc.models import list_models


def write(path: Path = CATALOG) -> Path:
    """Write the catalog to ``path``: a header, then one registered model a line."""
    header = {"about": "hetcalc's registered models, for answers without importing torch; "
                       "written by python -m hetcalc.models.write_catalog",
              "torchvision": installed_torchvision()}
    rows = ",\n".join("  " + json.dumps({"name": e.name, "input_shape": list(e.input_shape),
                                         "source": e.source}) for e in list_models())
    head = json.dumps(header, indent=1)[:-2]
    path.write_text(f'{head},\n "models": [\n{rows}\n ]\n}}\n', encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
