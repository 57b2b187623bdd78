"""``hetcalc designs`` end to end: the reduction's survivors and the efficiency table."""

import json

import pytest


def test_designs_ends_with_the_papers_four(cli):
    code, out, err = cli("designs", "--max-length", "6", "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["survivors"] == ["DW+PW", "GC+PWG", "PW+DW+PW", "PWG+DW+PWG"]
    assert data["total"] == sum(4 ** n for n in range(1, 7))  # 4 kernels, lengths 1..6
    before = [stage["before"] for stage in data["stages"]]
    kept = [stage["kept"] for stage in data["stages"]]
    assert before[1:] == kept[:-1] and kept[-1] == 4  # each stage starts where the last ended


def test_designs_table(cli):
    code, out, _ = cli("designs")
    assert code == 0
    assert "4 designs survive: DW+PW, GC+PWG, PW+DW+PW, PWG+DW+PWG." in out


def test_designs_efficiency_table(cli):
    code, out, err = cli("designs", "--channels", "256", "--out", "256", "--budget-params", "100K",
                         "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["standard"] == {"params": 256 * 256 * 9, "flops": 256 * 256 * 9}
    rows = {row["design"]: row for row in data["designs"]}
    assert rows["DW+PW"]["params"] == 256 * 9 + 256 * 256
    assert all(row["info_field"] == [3, 3, 256] for row in rows.values())
    assert all(row["greatest_width"]["params"] <= 100_000 for row in rows.values())


@pytest.mark.parametrize(("args", "message"), [
    (["designs", "--kernels", "gc,conv"], "hetcalc: error: unknown kernel 'conv'"),
    (["designs", "--max-length", "0"], "hetcalc: error: max_length must be an integer"),
    (["designs", "--out", "64"], "hetcalc: error: --out, --bottleneck-channels and "
                                 "--budget-params need --channels C"),
    (["designs", "--channels", "64", "--budget-params", "lots"],
     "hetcalc: error: --budget-params: bad number 'lots'; expected an integer or a number with "
     "a K, M, G or T suffix"),
])
def test_designs_errors(cli, args, message):
    code, _, err = cli(*args)
    assert code == 2 and err.startswith(message) and err.count("\n") == 1


def test_plots_need_the_extra_or_draw(cli, tmp_path):
    target = tmp_path / "curve.png"
    code, _, err = cli("curve", "--plot", str(target))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert code == 2
        assert err == ("hetcalc: error: --plot needs matplotlib: pip install 'matplotlib>=3.7' into "
                       "hetcalc's environment (pipx: pipx inject hetcalc 'matplotlib>=3.7')\n")
    else:
        assert code == 0 and target.stat().st_size > 1000
