"""``hetcalc plan`` and per-layer plans everywhere: the plan found is the best one (checked by
enumerating every plan of a small model), and a plan is costed, counted and timed the way a
uniform variant is."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
from torch import nn

from hetcalc import analysis
from hetcalc.errors import InvalidArgument
from hetcalc.nn import HetConv2d
from hetcalc.plan import Plan, plan_toml, read_plan
from hetcalc.plan.search import Budget, candidates_for, find_plan
from hetcalc.settings import LatencySettings
from hetcalc.substitute import decide, substitute
from hetcalc.trace import trace_model
from hetcalc.variants import STANDARD, parse_variant


class Small(nn.Module):
    """Five 3x3 convs and a 1x1 on 8x8 inputs: the stem stays standard, four layers choose."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)   # first conv: kept
        self.a = nn.Conv2d(8, 8, 3, padding=1, bias=False)      # std, p2, p4, p8
        self.b = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)  # std, p2, p4, p8
        self.c = nn.Conv2d(16, 16, 3, padding=1, bias=False)    # std, p2, p4, p8, p16
        self.d = nn.Conv2d(16, 4, 3, padding=1, bias=False)     # std, p2, p4
        self.e = nn.Conv2d(4, 4, 1, bias=False)                 # 1x1: not eligible

    def forward(self, x):
        for conv in (self.stem, self.a, self.b, self.c, self.d, self.e):
            x = conv(x)
        return x


SHAPE = (1, 3, 8, 8)
CHOSEN = ("a", "b", "c", "d")


@pytest.fixture(scope="module")
def small_trace():
    return trace_model(Small(), SHAPE, "Small")


@pytest.fixture(scope="module")
def every_plan(small_trace):
    """Every plan of the small model with its MACs, params and K x K weights kept, costed by
    the reports (not by the planner)."""
    offered = {call.name: candidates_for(call.shape, None) for call in small_trace.convs
               if call.name in CHOSEN}
    assert [len(offered[name]) for name in CHOSEN] == [4, 4, 5, 3]
    plans = []
    for combo in itertools.product(*(offered[name] for name in CHOSEN)):
        layers = dict(zip(CHOSEN, combo, strict=True))
        report = analysis.report_from_decisions("Small", small_trace, layers,
                                           decide(small_trace.convs, layers))
        changed = sum(not v.is_baseline for v in combo)
        plans.append((report.flops_analytic, report.params, report.params_kxk, changed))
    assert len(plans) == 4 * 4 * 5 * 3
    return plans


def test_small_model_costs_are_arithmetic(small_trace, every_plan):
    # Baseline MACs of the convs: Do^2 * M * N * K^2 (fvcore counts nothing else here).
    convs = 64 * 3 * 8 * 9 + 64 * 8 * 8 * 9 + 16 * 8 * 16 * 9 + 16 * 16 * 16 * 9 \
        + 16 * 16 * 4 * 9 + 16 * 4 * 4
    assert small_trace.flops_total == convs
    # All standard: every K x K weight kept, stem included.
    kxk = 3 * 8 * 9 + 8 * 8 * 9 + 8 * 16 * 9 + 16 * 16 * 9 + 16 * 4 * 9
    assert max(kept for _, _, kept, _ in every_plan) == kxk
    # The cheapest plan: P = M on every layer (Eq. 4: Do^2 * N * (M*K^2/P + M - M/P)).
    cheapest = (64 * 3 * 8 * 9 + 64 * 8 * (9 + 7) + 16 * 16 * (9 + 7) + 16 * 16 * (9 + 15)
                + 16 * 4 * (16 * 9 // 4 + 16 - 16 // 4) + 16 * 4 * 4)
    assert min(flops for flops, _, _, _ in every_plan) == cheapest


def _best(plans, max_flops=None, max_params=None):
    within = [p for p in plans if (max_flops is None or p[0] <= max_flops)
              and (max_params is None or p[1] <= max_params)]
    return max(within, key=lambda p: (p[2], -p[3], -p[0], -p[1])) if within else None


def test_the_plan_is_the_best_of_all_plans(every_plan):
    flops = sorted({p[0] for p in every_plan})
    params = sorted({p[1] for p in every_plan})
    budgets = [(f, None) for f in flops[:: max(1, len(flops) // 12)]]
    budgets += [(None, p) for p in params[:: max(1, len(params) // 6)]]
    budgets += [(flops[len(flops) // 2], params[len(params) // 3]),
                (flops[-1] + 1, None), (flops[0], None)]
    for max_flops, max_params in budgets:
        best = _best(every_plan, max_flops, max_params)
        if best is None:
            continue
        found = find_plan(Small(), Budget(max_flops, max_params), input_shape=SHAPE)
        row = found.planned
        assert (row.params_kxk, row.layers_changed) == (best[2], best[3]), (max_flops,
                                                                            max_params)
        assert row.flops <= (max_flops or row.flops) and row.params <= (max_params or row.params)
        assert row.meets


def test_below_every_plan_is_one_error_with_the_smallest_reachable(every_plan):
    smallest = min(p[0] for p in every_plan)
    with pytest.raises(InvalidArgument, match=rf"^max_flops 35.583K \({smallest - 1:,}\) MACs: "
                                              rf"no plan reaches it; the smallest any plan "
                                              rf"reaches is 35.584K \({smallest:,}\) MACs$"
                       ) as caught:
        find_plan(Small(), Budget(max_flops=smallest - 1), input_shape=SHAPE)
    assert caught.value.argument == "max_flops"
    assert find_plan(Small(), Budget(max_flops=smallest), input_shape=SHAPE).planned.flops \
        == smallest


def test_budgets_only_jointly_out_of_reach(every_plan):
    # The least MACs and the least params are each reachable, but (as here) perhaps not by one
    # plan: whatever the solver says must agree with enumeration.
    min_flops = min(p[0] for p in every_plan)
    min_params = min(p[1] for p in every_plan)
    best = _best(every_plan, min_flops, min_params)
    if best is None:
        with pytest.raises(InvalidArgument, match="together"):
            find_plan(Small(), Budget(min_flops, min_params), input_shape=SHAPE)
    else:
        found = find_plan(Small(), Budget(min_flops, min_params), input_shape=SHAPE)
        assert found.planned.params_kxk == best[2]


def test_uniform_rows_are_the_uniform_variants(small_trace):
    found = find_plan(Small(), Budget(max_flops=10**9), input_shape=SHAPE)
    assert found.plan.is_baseline and found.planned.layers_changed == 0
    assert [row.label for row in found.uniform] == ["p2", "p4", "p8", "p16"]
    for row in found.uniform:
        report = analysis.report_from_trace("Small", small_trace, parse_variant(row.label))
        assert (row.flops, row.params, row.params_kxk) == (
            report.flops_analytic, report.params, report.params_kxk)


def test_a_uniform_plan_reports_exactly_what_the_variant_does(vgg_trace):
    variant = parse_variant("p4")
    uniform = analysis.report_from_trace("vgg16_cifar", vgg_trace, variant)
    layers = {layer.name: variant for layer in uniform.substituted}
    planned = analysis.report_from_trace("vgg16_cifar", vgg_trace, Plan(layers))
    assert planned.label == "plan" and uniform.label == "p4"
    assert (planned.flops_analytic, planned.params, planned.params_kxk) == (
        uniform.flops_analytic, uniform.params, uniform.params_kxk)
    for mine, theirs in zip(planned.layers, uniform.layers, strict=True):
        assert (mine.name, mine.substituted, mine.flops_analytic, mine.params_variant,
                mine.params_kxk, mine.variant) == (theirs.name, theirs.substituted,
                                                   theirs.flops_analytic, theirs.params_variant,
                                                   theirs.params_kxk, theirs.variant)


def test_plan_mistakes_against_the_model(vgg_trace):
    convs = vgg_trace.convs
    where = Plan({"features.03": parse_variant("p4")}, where="v.toml")
    with pytest.raises(InvalidArgument, match=r'^v.toml: layer "features.03" = "p4": the model '
                                              r'has no conv layer of that name \(13 conv layers\); '
                                              r'did you mean "features.3"'):
        decide(convs, where)
    with pytest.raises(InvalidArgument, match=r'^v.toml: layer "features.3" = "p128": P=128 '
                                              r'does not divide M=64 input channels$'):
        decide(convs, Plan({"features.3": parse_variant("p128")}, where="v.toml"))
    with pytest.raises(InvalidArgument, match=r"merge_pairs: plan is a per-layer plan"):
        decide(convs, {"features.3": parse_variant("p4")}, merge_pairs=True)


def test_a_plan_may_name_the_first_conv(vgg_trace):
    first = vgg_trace.convs[0].name
    decisions = decide(vgg_trace.convs, {first: parse_variant("dwc")})
    assert decisions[0].replace and decisions[0].variant.spec == "dwc"
    assert all(d.variant == STANDARD and d.rule == "plan" for d in decisions[1:])


def test_substitute_takes_a_plan_object_or_path(tmp_path):
    layers = {"a": parse_variant("p2"), "c": parse_variant("p16"), "d": STANDARD}
    path = tmp_path / "small.toml"
    path.write_text(plan_toml(Plan(layers, input_shape=SHAPE)), encoding="utf-8")
    model = Small()
    for given in (read_plan(path), path, str(path)):
        converted, decisions = substitute(model, given)
        assert isinstance(converted.a, HetConv2d) and converted.a.part == 2
        assert isinstance(converted.c, HetConv2d) and converted.c.part == 16
        assert type(converted.b) is nn.Conv2d and type(converted.d) is nn.Conv2d
        assert [d.variant.spec for d in decisions] == ["std", "p2", "std", "p16", "std", "std"]
        assert converted(torch.zeros(SHAPE)).shape == (1, 4, 4, 4)
    assert type(model.a) is nn.Conv2d  # the caller's model is left as it was


def test_latency_budget_predicts_and_measures():
    settings = LatencySettings(device="cpu", min_run_time=0.02, rounds=3, threads=1)
    found = find_plan(Small(), Budget(max_latency_ms=1e6), input_shape=SHAPE, latency=settings)
    baseline, planned = found.baseline, found.planned
    assert planned.predicted_ms == pytest.approx(baseline.predicted_ms - sum(
        layer.choice.saving_ms for layer in found.layers))
    assert planned.latency is not None and baseline.latency is not None
    assert found.environment["threads"] == 1
    # Every candidate of every layer was timed, once per shape.
    assert all(c.latency_ms is not None for layer in found.layers for c in layer.candidates)


# --- the command line ------------------------------------------------------------------------


def test_plan_then_analyze_counts_what_the_plan_says(cli, tmp_path):
    path = tmp_path / "vgg.toml"
    code, out, err = cli("plan", "vgg16_cifar", "--max-flops", "100M", "-o", str(path),
                         "--format", "json")
    assert code == 0, err
    made = json.loads(out)
    assert made["result"]["flops"] <= 100_000_000 and made["result"]["meets_budget"]
    assert made["plan"]["file"] == str(path)
    written = read_plan(path)
    assert written.model == "vgg16_cifar" and written.input_shape == (1, 3, 32, 32)
    assert {n: v.spec for n, v in written.items()} == made["plan"]["layers"]
    p4 = next(row for row in made["uniform"] if row["variant"] == "p4")
    assert not p4["meets_budget"] and made["result"]["params_kxk"] > 0

    code, out, err = cli("analyze", "vgg16_cifar", "--plan", str(path), "--impl", "exact",
                         "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["variant"] == "vgg.toml" and data["plan"]["file"] == str(path)
    result = data["result"]
    assert result["flops_counted"] == result["flops_analytic"] == made["result"]["flops"]
    assert result["params"] == made["result"]["params"]
    assert result["params_kxk"] == made["result"]["params_kxk"] == sum(
        layer["params_kxk"] for layer in data["layers"])
    for layer in data["layers"]:
        assert layer["flops_counted"] == layer["flops_analytic"], layer["name"]
        assert layer["variant"] == made["plan"]["layers"].get(layer["name"], "std")


def test_uniform_plan_file_equals_the_variant_on_the_command_line(cli, tmp_path):
    code, out, _ = cli("analyze", "vgg16_cifar", "--P", "4", "--format", "json")
    uniform = json.loads(out)
    layers = {row["name"]: "p4" for row in uniform["layers"] if row["substituted"]}
    path = tmp_path / "p4.toml"
    path.write_text("[layers]\n" + "".join(f'"{n}" = "{v}"\n' for n, v in layers.items()),
                    encoding="utf-8")
    code, out, err = cli("analyze", "vgg16_cifar", "--plan", str(path), "--format", "json")
    assert code == 0, err
    planned = json.loads(out)
    assert planned["result"] == uniform["result"] and planned["baseline"] == uniform["baseline"]
    for mine, theirs in zip(planned["layers"], uniform["layers"], strict=True):
        assert mine.pop("variant") == ("p4" if theirs["substituted"] else "std")
        if not theirs["substituted"]:
            mine.pop("note"), theirs.pop("note")
        assert mine == theirs


def test_infeasible_budget_exits_2_naming_the_smallest_reachable(cli, vgg_trace):
    # The least MACs any plan reaches: every eligible layer at its cheapest P (Eq. 4 with
    # P = min(M, N) here, as every layer's channels are powers of two and M <= N).
    smallest = vgg_trace.flops_total
    for call in vgg_trace.convs[1:]:
        s = call.shape
        do2 = s.output_size[0] * s.output_size[1]
        m, n, p = s.in_channels, s.out_channels, min(s.in_channels, s.out_channels)
        smallest += do2 * n * (m * 9 // p + m - m // p) - do2 * m * n * 9
    code, out, err = cli("plan", "vgg16_cifar", "--max-flops", "10M")
    assert (code, out) == (2, "")
    assert err == (f"hetcalc: error: --max-flops 10.000M (10,000,000) MACs: no plan reaches "
                   f"it; the smallest any plan reaches is {smallest / 1e6:.3f}M ({smallest:,}) "
                   "MACs\n")


@pytest.mark.parametrize(("args", "message"), [
    ([], "give at least one budget: --max-flops, --max-params or --max-latency-ms"),
    (["--max-flops", "2.9X"], "--max-flops: bad number '2.9X'"),
    (["--max-flops", "1G", "--choices", "p4,q"], "--choices: unknown variant 'q'"),
    (["--max-flops", "1G", "-o", "plan.txt"], "--output plan.txt: a plan file's name ends in"),
    (["--max-latency-ms", "0"], "--max-latency-ms must be a finite, positive number"),
    (["--max-latency-ms", "nan"], "--max-latency-ms must be a finite, positive number"),
    (["--max-params", "0"], "--max-params: "),
    (["--max-flops", ""], "--max-flops: "),
    (["--max-flops", "1G", "--choices", ""], "--choices: variants: empty variant list"),
    (["--max-latency-ms", "5", "--threads", "0"], "--threads must be a positive integer"),
    (["--max-latency-ms", "5", "--time-budget", "0"], "--time-budget must be a finite"),
    (["--max-latency-ms", "5", "--device", "tpu"], "--device must be one of auto, cpu, cuda"),
    (["--max-flops", "1G", "--input-shape", "1,3"], "--input-shape must be positive integers"),
    (["--max-flops", "1G", "-o", "{tmp}/no/plan.toml"], "--output {tmp}/no/plan.toml: cannot"),
])
def test_plan_arguments_fail_before_any_work(cli, tmp_path, args, message):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    message = message.replace("{tmp}", str(tmp_path))
    code, out, err = cli("plan", "vgg16_cifar", *args)
    assert (code, out) == (2, "") and err.startswith(f"hetcalc: error: {message}"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    code, _, err = cli("plan", "resnet5", "--max-flops", "1G")
    assert code == 2 and err.startswith("hetcalc: error: unknown model 'resnet5'")


def test_analyze_plan_errors_name_file_layer_and_value(cli, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[plan]\nmodel = "vgg16_cifar"\n[layers]\n"features.3" = "p3"\n',
                    encoding="utf-8")
    code, _, err = cli("analyze", "vgg16_cifar", "--plan", str(path))
    assert code == 2
    assert err == (f'hetcalc: error: {path}: layer "features.3" = "p3": P=3 does not divide '
                   "M=64 input channels\n")
    code, _, err = cli("analyze", "resnet18", "--plan", str(path))
    assert code == 2 and 'this plan is for model "vgg16_cifar", not "resnet18"' in err
    code, _, err = cli("analyze", "vgg16_cifar", "--plan", str(path), "--P", "4")
    assert code == 2 and "give either --plan or --P, not both" in err


def test_compare_puts_a_plan_beside_the_variants(cli, tmp_path):
    path = tmp_path / "mixed.toml"
    path.write_text('[layers]\n"features.3" = "p64"\n"features.40" = "p8"\n', encoding="utf-8")
    code, out, err = cli("compare", "vgg16_cifar", "--variants", f"p4,{path}", "--no-latency",
                         "--format", "json")
    assert code == 0, err
    rows = {row["variant"]: row for row in json.loads(out)["variants"]}
    assert list(rows) == ["p4", "mixed.toml"]
    code, out, _ = cli("analyze", "vgg16_cifar", "--plan", str(path), "--format", "json")
    analysed = json.loads(out)["result"]
    mixed = rows["mixed.toml"]
    assert (mixed["flops_analytic"], mixed["flops_counted"], mixed["params"]) == (
        analysed["flops_analytic"], analysed["flops_counted"], analysed["params"])
    assert mixed["info_field"] == "same as standard (2 layers)"


def test_budget_entries_take_a_plan(cli, tmp_path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "mixed.toml").write_text(
        '[plan]\nmodel = "vgg16_cifar"\n[layers]\n"features.3" = "p64"\n', encoding="utf-8")
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[[model]]\nmodel = "vgg16_cifar"\nplan = "plans/mixed.toml"\n'
                       'max_flops = "1G"\n', encoding="utf-8")
    code, out, err = cli("check", str(budgets), "--format", "json")
    assert code == 0, err
    entry = json.loads(out)["entries"][0]
    assert entry["variant"] == "mixed.toml"
    code, out, _ = cli("analyze", "vgg16_cifar", "--plan",
                       str(tmp_path / "plans" / "mixed.toml"), "--format", "json")
    assert entry["checks"]["flops"]["value"] == json.loads(out)["result"]["flops_analytic"]

    budgets.write_text('[[model]]\nmodel = "vgg16_cifar"\nplan = "plans/mixed.toml"\n'
                       'variant = "p4"\nmax_flops = "1G"\n', encoding="utf-8")
    code, _, err = cli("check", str(budgets))
    assert code == 2 and "entry 1 (vgg16_cifar): plan: give variant or plan, not both" in err
    budgets.write_text('[[model]]\nmodel = "vgg16_cifar"\nplan = "plans/none.toml"\n'
                       'max_flops = "1G"\n', encoding="utf-8")
    code, _, err = cli("check", str(budgets))
    assert code == 2 and "entry 1 (vgg16_cifar): plan: plans/none.toml: no such plan file" in err


MIXED = [parse_variant(s) for s in ("p2", "pconv2", "ghost2", "dual2")]


@pytest.fixture(scope="module")
def every_mixed_plan(small_trace):
    """Every plan of the small model when HetConv and its successors are offered together."""
    offered = {call.name: candidates_for(call.shape, MIXED) for call in small_trace.convs
               if call.name in CHOSEN}
    # a (8 -> 8), c (16 -> 16), d (16 -> 4): std and all four; b has stride 2: no PConv there
    assert [[v.spec for v in offered[name]] for name in CHOSEN] == [
        ["std", "p2", "pconv2", "ghost2", "dual2"], ["std", "p2", "ghost2", "dual2"],
        ["std", "p2", "pconv2", "ghost2", "dual2"], ["std", "p2", "pconv2", "ghost2", "dual2"]]
    plans = []
    for combo in itertools.product(*(offered[name] for name in CHOSEN)):
        layers = dict(zip(CHOSEN, combo, strict=True))
        report = analysis.report_from_decisions("Small", small_trace, layers,
                                           decide(small_trace.convs, layers))
        plans.append((report.flops_analytic, report.params, report.params_kxk,
                      sum(not v.is_baseline for v in combo)))
    assert len(plans) == 5 * 4 * 5 * 5
    return plans


def test_a_plan_mixing_hetconv_and_its_successors_is_the_best_of_all(every_mixed_plan):
    flops = sorted({p[0] for p in every_mixed_plan})
    for max_flops in flops[:: max(1, len(flops) // 15)] + [flops[0], flops[-1]]:
        best = _best(every_mixed_plan, max_flops)
        found = find_plan(Small(), Budget(max_flops), MIXED, input_shape=SHAPE)
        row = found.planned
        assert (row.params_kxk, row.layers_changed) == (best[2], best[3]), max_flops
        assert row.flops <= max_flops and row.meets


# -- --keep energy: the most weight energy of trained weights, checked against every plan ------

@pytest.fixture(scope="module")
def trained_small(tmp_path_factory):
    """The small model with seeded weights, saved as safetensors, and every plan's kept weight
    energy computed from HetConv's mask alone (the K x K kernels where c = n mod P, the centre
    taps elsewhere), not by the planner."""
    from safetensors.torch import save_file

    from hetcalc.nn import hetconv_mask

    torch.manual_seed(5)
    model = Small()
    path = tmp_path_factory.mktemp("weights") / "small.safetensors"
    save_file(model.state_dict(), str(path))
    trace = trace_model(Small(), SHAPE, "Small")
    offered = {call.name: candidates_for(call.shape, None) for call in trace.convs
               if call.name in CHOSEN}
    fixed = sum(float(getattr(model, name).weight.detach().double().square().sum())
                for name in ("stem", "e"))
    total = fixed + sum(float(getattr(model, name).weight.detach().double().square().sum())
                        for name in CHOSEN)

    def kept(name, variant):
        w = getattr(model, name).weight.detach().double()
        if variant.is_baseline:
            return float(w.square().sum())
        mask = hetconv_mask(w.shape[0], w.shape[1], tuple(w.shape[2:]), variant.part)
        return float((w.square() * mask).sum())

    plans = []
    for combo in itertools.product(*(offered[name] for name in CHOSEN)):
        layers = dict(zip(CHOSEN, combo, strict=True))
        report = analysis.report_from_decisions("Small", trace, layers,
                                                decide(trace.convs, layers))
        energy = (fixed + sum(kept(n, v) for n, v in layers.items())) / total
        plans.append((report.flops_analytic, report.params, energy))
    return model, path, plans


def test_keep_energy_is_the_best_of_all_plans_and_never_below_keep_kxk(trained_small):
    from hetcalc.weights import Weights

    model, path, plans = trained_small
    flops = sorted({p[0] for p in plans})
    weights = Weights(path)
    for max_flops in flops[:: max(1, len(flops) // 8)] + [flops[-1]]:
        best = max(p[2] for p in plans if p[0] <= max_flops)
        found = find_plan(Small(), Budget(max_flops), input_shape=SHAPE, keep="energy",
                          weights=weights)
        assert found.planned.flops <= max_flops
        assert found.planned.energy_kept == pytest.approx(best, rel=1e-9), max_flops
        kxk = find_plan(Small(), Budget(max_flops), input_shape=SHAPE, weights=weights)
        assert found.planned.energy_kept >= kxk.planned.energy_kept - 1e-12


def test_keep_energy_needs_weights():
    with pytest.raises(InvalidArgument, match="keep: energy needs trained weights"):
        find_plan(Small(), Budget(10 ** 6), input_shape=SHAPE, keep="energy")
