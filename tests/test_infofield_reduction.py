"""The stages of the design-space reduction (Section 3.1), one at a time.

Designs are written one letter per kernel (G GC, D DW, P PW, Q PWG). Expected values are facts
a reader can check against the paper: the standard field of a 3×3 convolution on 16 channels is
(3, 3, 16), the group numbers tried are the divisors 1 < G < 16, a DW sees one channel."""

from __future__ import annotations

import pytest

from hetcalc.infofield import KERNELS, Removal
from hetcalc.infofield.reduction import (
    DesignFields,
    composition_stage,
    efficiency_stage,
    enumerate_designs,
    performance_stage,
)

ROTATION = "repeated block after block they form the same pattern"
SAME = "DW is GC with G = channels, the most parameter-efficient group number"


@pytest.fixture(scope="module")
def fields():
    return DesignFields(16, 3, bottleneck=True)


def test_fields_setup(fields):
    assert fields.standard == (3, 3, 16)        # Figure 1a: (K, K, C)
    assert fields.group_choices == [2, 4, 8]    # footnote 1: every divisor 1 < G < 16


# ----------------------------------------------------------------------------------------------
# Enumeration
# ----------------------------------------------------------------------------------------------


def test_enumeration_is_every_sequence_shorter_first():
    assert enumerate_designs(("dw", "pw"), 2) == ("D", "P", "DD", "DP", "PD", "PP")
    assert enumerate_designs(("pw", "dw"), 1) == ("P", "D")
    assert enumerate_designs(KERNELS, 1) == ("G", "D", "P", "Q")


def test_enumeration_count_is_the_papers():
    # Section 3.1: 4 kernels, designs of length 1..6.
    assert len(enumerate_designs(KERNELS, 6)) == 4 + 4**2 + 4**3 + 4**4 + 4**5 + 4**6
    assert len(set(enumerate_designs(KERNELS, 3))) == 4 + 4**2 + 4**3


# ----------------------------------------------------------------------------------------------
# Composition
# ----------------------------------------------------------------------------------------------


def test_composition_removes_repeats_then_rotations():
    stage, kept = composition_stage(("D", "P", "DD", "DP", "PD", "PP"))
    assert kept == ("D", "P", "DP")
    assert (stage.name, stage.before, stage.kept) == ("composition", 6, ("DW", "PW", "DW+PW"))
    assert stage.removed == (
        Removal("DW+DW", "repeat", "repeated pattern DW+DW"),
        Removal("PW+PW", "repeat", "repeated pattern PW+PW"),
        Removal("PW+DW", "rotation", f"rotation of DW+PW: {ROTATION}"),
    )


@pytest.mark.parametrize(("code", "pattern"), [
    ("PPD", "PW+PW"),                    # anywhere in the design, not only at the start
    ("GDPDP", "DW+PW+DW+PW"),            # (.+?)\1+ matches the whole repetition
    ("QGQG", "PWG+GC+PWG+GC"),
])
def test_composition_repeat_pattern(code, pattern):
    stage, kept = composition_stage((code,))
    assert kept == ()
    assert [(r.rule, r.reason) for r in stage.removed] == [("repeat", f"repeated pattern {pattern}")]


def test_composition_keeps_the_first_rotation_in_the_papers_order():
    # Order gc < dw < pw < pwg: DW+PWG+PW (D, Q, P) comes before PW+DW+PWG and PWG+PW+DW.
    stage, kept = composition_stage(("PDQ", "DQP", "QPD"))
    assert kept == ("DQP",)
    assert stage.removed == (
        Removal("PW+DW+PWG", "rotation", f"rotation of DW+PWG+PW: {ROTATION}"),
        Removal("PWG+PW+DW", "rotation", f"rotation of DW+PWG+PW: {ROTATION}"),
    )


def test_composition_compares_rotations_among_the_candidates_only():
    stage, kept = composition_stage(("PD",))
    assert kept == ("PD",) and stage.removed == ()


# ----------------------------------------------------------------------------------------------
# Performance
# ----------------------------------------------------------------------------------------------


def test_performance_removes_designs_that_never_reach_the_standard_field(fields):
    stage, kept = performance_stage(("D", "P", "DP", "GQ", "DQ"), fields)
    assert kept == ("DP", "GQ")
    assert (stage.name, stage.before, stage.kept) == ("performance", 5, ("DW+PW", "GC+PWG"))
    standard = "no group numbers reach the standard field (3, 3, 16)"
    assert stage.removed == (
        Removal("DW", "field", f"{standard}; closest (3, 3, 1)"),      # one channel
        Removal("PW", "field", f"{standard}; closest (1, 1, 16)"),     # no spatial extent
        # PWG(2) after DW sees the 16/2 = 8 channels of its group at best
        Removal("DW+PWG", "field", f"{standard}; closest (3, 3, 8)"),
    )


def test_performance_uses_the_kernel_size_of_the_fields():
    stage, kept = performance_stage(("D", "DP"), DesignFields(16, 5, bottleneck=True))
    assert kept == ("DP",)
    assert stage.removed == (Removal("DW", "field", "no group numbers reach the standard field "
                                                    "(5, 5, 16); closest (5, 5, 1)"),)


# ----------------------------------------------------------------------------------------------
# Efficiency
# ----------------------------------------------------------------------------------------------


def test_efficiency_applies_the_early_stop_rules_and_merges_gc_into_dw(fields):
    codes = ("DPD", "DPQ", "DQP", "GP", "PGP", "PDP", "QDQ", "GQ", "DP")
    stage, survivors = efficiency_stage(codes, fields, merge_gc_into_dw=True)
    assert (stage.name, stage.before) == ("efficiency", 9)
    assert stage.removed == (
        Removal("DW+PW+DW", "rule2", "rule 2: kernel 3 (DW) takes the field to (5, 5, 16), "
                                     "beyond the standard (3, 3, 16)"),   # 3 + 3 - 1 = 5
        Removal("DW+PW+PWG", "rule1", "rule 1: kernel 3 (PWG) leaves the field at (3, 3, 16)"),
        Removal("DW+PWG+PW", "rule2", "rule 2: its kernels DW+PW already reach the standard "
                                      "field (3, 3, 16)"),
        Removal("GC+PW", "same-design", f"same design as DW+PW: {SAME}"),
        Removal("PW+GC+PW", "same-design", f"same design as PW+DW+PW: {SAME}"),
    )
    # The paper's order (Figure 1, Section 3.2): shorter first, dense before grouped.
    four = ("DW+PW", "GC+PWG", "PW+DW+PW", "PWG+DW+PWG")
    assert stage.kept == four
    assert tuple(s.design for s in survivors) == four
    assert [s.kernels for s in survivors] == [("dw", "pw"), ("gc", "pwg"), ("pw", "dw", "pw"),
                                              ("pwg", "dw", "pwg")]


def test_efficiency_survivors_carry_groups_and_steps(fields):
    _, survivors = efficiency_stage(("DP", "GQ"), fields, merge_gc_into_dw=True)
    dw_pw, gc_pwg = survivors
    assert dw_pw.groups == ((),) and dw_pw.steps == ((3, 3, 1), (3, 3, 16))
    # Section 3.3.2: the field stays standard while M·N ≤ C = 16.
    assert gc_pwg.groups == ((2, 2), (2, 4), (2, 8), (4, 2), (4, 4), (8, 2))
    assert gc_pwg.steps == ((3, 3, 16 // 2), (3, 3, 16))   # GC(2) first: one group of 16/2


def test_efficiency_without_dw_keeps_gc_designs(fields):
    stage, survivors = efficiency_stage(("GP", "PGP"), fields, merge_gc_into_dw=False)
    assert stage.removed == ()
    assert tuple(s.design for s in survivors) == ("GC+PW", "PW+GC+PW")


def test_efficiency_without_the_bottleneck_allowance():
    stage, survivors = efficiency_stage(("PDP", "DP"), DesignFields(16, 3, bottleneck=False),
                                        merge_gc_into_dw=True)
    assert stage.removed == (Removal("PW+DW+PW", "rule1", "rule 1: kernel 3 (PW) leaves the "
                                                          "field at (3, 3, 16)"),)
    assert stage.kept == ("DW+PW",)
