"""hetcalc: what a convolution costs, and what HetConv, GWC+PWC or DWC+PWC would save.

FLOPs are multiply-accumulates (MACs) throughout. The main entry points are re-exported here and
imported on first use, so ``import hetcalc.formulas`` stays free of torch. Elsewhere:
``hetcalc.compare.compare`` (variants side by side, with latency),
``hetcalc.substitute.substitute`` (convert a model; returns it and the per-layer plan) and the
modules in ``hetcalc.nn``.


* :func:`analyze` (``hetcalc.analysis``): analytic and fvcore-counted cost of a model under a variant
* :func:`parse_variant` (``hetcalc.variants``): ``"p4"``, ``"pc"``, ``"gwc4"``, ``"dwc"``, ``"p4-se"``
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "analyze": "hetcalc.analysis",
    "parse_variant": "hetcalc.variants",
    "parse_variants": "hetcalc.variants",
    "HetcalcError": "hetcalc.errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hetcalc' has no attribute {name!r}")
