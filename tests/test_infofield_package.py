"""hetcalc.infofield as a package: its public names and its independence from torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hetcalc.infofield

ROOT = Path(__file__).resolve().parents[1]

# The names hetcalc.infofield offered as a single module; splitting it must not lose any.
PUBLIC = {
    "KERNELS", "PAPER_NAMES", "InfoField", "FieldRelation", "Layer", "parse_design",
    "parse_kernels", "plan_channels", "sequence_info_field", "sequence_field_steps",
    "standard_info_field", "compare_fields", "equals_standard", "Removal",
    "Stage", "Survivor", "DesignSpaceReport", "reduce_design_space", "Design", "design_layers",
    "design_params", "design_macs", "standard_params", "GroupChoice", "best_groups",
    "WidthChoice", "greatest_width", "greatest_width_bound", "EfficiencyRow", "EfficiencyReport",
    "efficiency_table",
}


def test_public_names():
    assert set(hetcalc.infofield.__all__) == PUBLIC
    for name in PUBLIC | {"MAX_DESIGN_LENGTH", "BOTTLENECK_RATIO", "REPEAT_PATTERN"}:
        assert getattr(hetcalc.infofield, name) is not None, name


def test_importing_the_package_does_not_import_torch():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run(
        [sys.executable, "-c", "import hetcalc.infofield, sys; assert 'torch' not in sys.modules"
                               "; print(hetcalc.infofield.__file__)"],
        env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == ROOT / "hetcalc" / "infofield" / "__init__.py"
