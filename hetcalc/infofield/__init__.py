"""The information field of sparse-kernel designs, the design-space reduction and the efficiency
analysis of "Penetrating the Fog: the Path to Efficient CNN Models" (ICLR 2019 submission,
``papers/information-field-iclr2019-submission.txt``).

Notation. This package follows the *second* paper: ``C`` input channels, ``F`` output channels,
``B`` bottleneck (intermediate) channels (the paper's ``K`` in Section 3.2/3.3.3, renamed here
because ``K`` is the kernel size in the HetConv paper), ``M`` and ``N`` the group numbers of the
first and second grouped layer of a design (Section 3.3). ``kernel`` is the spatial size of the
K×K layers (3 in the paper).

Conventions, as in :mod:`hetcalc.formulas`: **FLOPs are multiply-accumulates (MACs)**, bias adds
and BN are not counted, params are weights (no bias, no BN). Every layer of a design runs at the
output resolution (stride 1 with "same" padding, or the stride on the first layer), so a design's
MACs are its weights times ``out_h·out_w``.

Four modules, all pure functions (shapes in, dataclasses out, nothing printed):

* :mod:`~hetcalc.infofield.kernels`: :class:`~hetcalc.infofield.kernels.KernelKind`, the one
  naming of the kernels (grammar token, paper name, reduction code), :class:`Layer` and the
  design grammar (:func:`parse_design`, :func:`parse_kernels`).
* :mod:`~hetcalc.infofield.field`: :class:`InfoField` and :func:`sequence_info_field`
  (Definition 1, Section 3.1) for a sequence of kernels (standard conv, ``gc(G)``, ``dw``,
  ``pw``, ``pwg(G)``, channel shuffle), computed exactly by following every channel dependency
  (the field of one layer under a hetcalc variant: :func:`hetcalc.variants.info_field`).
* :mod:`~hetcalc.infofield.reduction`: :func:`reduce_design_space` (Section 3.1), the
  composition of its enumeration and its composition, performance and efficiency stages.
* :mod:`~hetcalc.infofield.efficiency`: :func:`design_params`, :func:`best_groups`,
  :func:`greatest_width`, :func:`efficiency_table` (Section 3.3, Theorem 1).

The package imports no torch.
"""

from hetcalc.infofield.efficiency import BOTTLENECK_RATIO as BOTTLENECK_RATIO
from hetcalc.infofield.efficiency import (
    Design,
    EfficiencyReport,
    EfficiencyRow,
    GroupChoice,
    WidthChoice,
    best_groups,
    design_layers,
    design_macs,
    design_params,
    efficiency_table,
    greatest_width,
    greatest_width_bound,
    standard_params,
)
from hetcalc.infofield.field import (
    FieldRelation,
    InfoField,
    compare_fields,
    equals_standard,
    plan_channels,
    sequence_field_steps,
    sequence_info_field,
    standard_info_field,
)
from hetcalc.infofield.kernels import KERNELS, PAPER_NAMES, Layer, parse_design, parse_kernels
from hetcalc.infofield.reduction import MAX_DESIGN_LENGTH as MAX_DESIGN_LENGTH
from hetcalc.infofield.reduction import REPEAT_PATTERN as REPEAT_PATTERN
from hetcalc.infofield.reduction import (
    DesignSpaceReport,
    Removal,
    Stage,
    Survivor,
    reduce_design_space,
)

__all__ = [
    "KERNELS",
    "PAPER_NAMES",
    "InfoField",
    "FieldRelation",
    "Layer",
    "parse_design",
    "parse_kernels",
    "plan_channels",
    "sequence_info_field",
    "sequence_field_steps",
    "standard_info_field",
    "compare_fields",
    "equals_standard",
    "Removal",
    "Stage",
    "Survivor",
    "DesignSpaceReport",
    "reduce_design_space",
    "Design",
    "design_layers",
    "design_params",
    "design_macs",
    "standard_params",
    "GroupChoice",
    "best_groups",
    "WidthChoice",
    "greatest_width",
    "greatest_width_bound",
    "EfficiencyRow",
    "EfficiencyReport",
    "efficiency_table",
]
