"""What a new user tripped on in the first hour, each pinned: words that fit what ran."""

from __future__ import annotations

import pytest

from hetcalc.settings import unreliable_note


def test_a_run_at_one_thread_is_not_told_to_rerun_at_one_thread():
    assert "--threads 1" in unreliable_note("--time-budget")
    assert "--threads 1" in unreliable_note("--time-budget", threads=2)
    one = unreliable_note("--time-budget", threads=1)
    assert "--threads 1" not in one and "a longer --time-budget" in one


@pytest.mark.parametrize(("variant", "counted_as"), [
    ("gwc4", "fvcore count of the substituted model, as built)"),
    ("dual4", "fvcore count of the substituted model, as built)"),
    ("p4", "fvcore count of the substituted model, exact HetConv)"),
])
def test_the_counted_row_names_a_hetconv_realization_only_where_one_ran(cli, variant,
                                                                         counted_as):
    code, out, _ = cli("analyze", "vgg16_cifar", "--variant", variant, "--totals", "--wide")
    assert code == 0
    assert counted_as in out
    if variant != "p4":
        assert "HetConv" not in out.split("FLOPs are multiply-accumulates")[0]
