"""Every HetConv realization computes the masked dense conv and executes the MACs it states;
``auto`` chooses among them once per call signature; every realization compiles, traces at one
batch size and runs at another, and exports to ONNX.

The reference is ``conv(x, layer.to_dense())`` in float64 (``to_dense`` is tested against
``hetconv_mask`` in ``tests/test_nn.py``). No test here asserts a timing.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from hetcalc import formulas, realizations
from hetcalc.analysis import LayerReport, explain_difference
from hetcalc.nn import (
    IMPLS,
    PINNED,
    HetConv1d,
    HetConv2d,
    HetConv3d,
    Impl,
    auto_choices,
    clear_auto_choices,
    tune_realizations,
)
from hetcalc.nn import _auto as auto_module
from hetcalc.nn import _tune as tune_module
from hetcalc.nn import hetconv as hetconv_module
from hetcalc.tensors import materialize_zero
from hetcalc.variants import ConvShape, part_variant

with warnings.catch_warnings():  # fvcore's import touches the deprecated torch.jit.script
    warnings.simplefilter("ignore", FutureWarning)
    from fvcore.nn import FlopCountAnalysis

DTYPE = torch.float64
CLASSES = {1: HetConv1d, 2: HetConv2d, 3: HetConv3d}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@pytest.fixture(autouse=True)
def one_thread_and_no_auto_choices():
    """Tiny tensors: one thread (restored); every test starts with an empty auto cache."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    clear_auto_choices()
    yield
    clear_auto_choices()
    torch.set_num_threads(threads)


def reference(layer, x: torch.Tensor) -> torch.Tensor:
    """The masked dense conv: the function every realization computes."""
    return CONV[layer.dims](x, layer.to_dense(), layer.bias, layer.stride, layer.padding,
                            layer.dilation)


def make(dims, m, n, kernel, stride, padding, dilation, part, impl="exact", bias=True, seed=0):
    torch.manual_seed(seed)
    return CLASSES[dims](m, n, kernel, part, stride, padding, dilation, bias=bias,
                         impl=impl).to(DTYPE)


# (id, dims, M, N, kernel, stride, padding, dilation, P, input size, batch)
CASES = [
    ("2d-same-p4-b3", 2, 8, 16, 3, 1, 1, 1, 4, (9, 13), 3),
    ("2d-stride2-pad2-pM-b2", 2, 8, 8, 3, 2, 2, 1, 8, (9, 13), 2),
    ("2d-3x5-stride2-dil2-p2-b2", 2, 8, 16, (3, 5), 2, (2, 1), 2, 2, (9, 13), 2),
    ("2d-pad0-p2-b2", 2, 8, 16, 3, 1, 0, 1, 2, (7, 6), 2),
    ("2d-even-kernel4-p2-b2", 2, 8, 8, 4, 2, 1, 1, 2, (9, 13), 2),
    ("2d-few-pixels-p2-b1", 2, 8, 16, 3, 1, 1, 1, 2, (2, 3), 1),
    ("2d-p1-b2", 2, 8, 8, 3, 1, 1, 1, 1, (5, 5), 2),
    ("1d-p4-b2", 1, 8, 16, 3, 1, 1, 1, 4, (20,), 2),
    ("1d-k5-stride2-p2-b3", 1, 8, 8, 5, 2, 2, 1, 2, (17,), 3),
    ("1d-dil2-p3-b2", 1, 6, 12, 3, 1, 2, 2, 3, (9,), 2),
    ("3d-p4-b2", 3, 8, 8, 3, 1, 1, 1, 4, (4, 5, 6), 2),
    ("3d-1x3x3-stride122-p2-b2", 3, 4, 8, (1, 3, 3), (1, 2, 2), (0, 1, 1), 1, 2, (3, 7, 6), 2),
]
CASE_ARGS = [c[1:] for c in CASES]
CASE_IDS = [c[0] for c in CASES]


# -- the function ------------------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("dims", "m", "n", "kernel", "stride", "padding", "dilation", "part",
                          "size", "batch"), CASE_ARGS, ids=CASE_IDS)
def test_every_realization_equals_the_masked_dense_conv(impl, dims, m, n, kernel, stride,
                                                         padding, dilation, part, size, batch):
    layer = make(dims, m, n, kernel, stride, padding, dilation, part, impl)
    x = torch.randn(batch, m, *size, dtype=DTYPE, requires_grad=True)
    expected = reference(layer, x)
    got = layer(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected)
    with torch.no_grad():  # the inference forms (kept weights, in-place sums), twice: kept
        torch.testing.assert_close(layer(x), expected)
        torch.testing.assert_close(layer(x), expected)
    # gradients: input and every parameter, against the reference's
    upstream = torch.randn_like(expected)
    params = [p for p in layer.parameters() if p.numel()]
    grads = torch.autograd.grad(got, [x, *params], upstream)
    wanted = torch.autograd.grad(reference(layer, x), [x, *params], upstream)
    for mine, theirs in zip(grads, wanted, strict=True):
        torch.testing.assert_close(mine, theirs)


@pytest.mark.parametrize("impl", PINNED)
@pytest.mark.parametrize("dims", [2, 3])
def test_channels_last_and_strided_inputs(impl, dims):
    layer = make(dims, 8, 16, 3, 1, 1, 1, 4, impl)
    x = torch.randn(2, 8, *(5,) * dims, dtype=DTYPE)
    fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
    for variant in (x.contiguous(memory_format=fmt), x.transpose(2, 3).contiguous().transpose(2, 3)):
        assert not variant.is_contiguous()
        with torch.no_grad():
            torch.testing.assert_close(layer(variant), reference(layer, x))


def test_realize_runs_the_named_realization_and_rejects_auto():
    layer = make(2, 8, 16, 3, 1, 1, 1, 4, "exact")
    x = torch.randn(2, 8, 5, 5, dtype=DTYPE)
    for impl in PINNED:
        torch.testing.assert_close(layer.realize(x, impl), reference(layer, x))
    with pytest.raises(ValueError, match="impl must be one of exact, .*, got 'auto'"):
        layer.realize(x, "auto")


def test_inference_keeps_derived_weights_until_a_parameter_changes():
    layer = make(2, 8, 8, 3, 1, 1, 1, 2, "dense")
    x = torch.randn(1, 8, 5, 5, dtype=DTYPE)
    with torch.inference_mode():
        layer(x)
        kept = layer._derived["dense-00"][1]
        layer(x)
        assert layer._derived["dense-00"][1] is kept
    with torch.no_grad():
        layer.weight_kxk.mul_(2)  # bumps the version counter: the kept weight is stale
        torch.testing.assert_close(layer(x), reference(layer, x))
    assert layer._derived["dense-00"][1] is not kept


@pytest.mark.parametrize("impl", ["exact-cl", "fast-cl"])
def test_channels_last_realizations_keep_a_channels_last_kxk_weight(impl):
    """The grouped conv of a channels-last realization reads its weight in channels-last
    layout, made once and kept; a changed parameter makes it again."""
    layer = make(2, 8, 8, 3, 1, 1, 1, 4, impl)
    x = torch.randn(1, 8, 5, 5, dtype=DTYPE)
    with torch.inference_mode():
        layer(x)
        (name,) = [key for key in layer._derived if key.startswith("kxk-")]
        kept = layer._derived[name][1]
        assert kept.is_contiguous(memory_format=torch.channels_last)
        layer(x)
        assert layer._derived[name][1] is kept
    with torch.no_grad():
        layer.weight_kxk.mul_(2)
        torch.testing.assert_close(layer(x), reference(layer, x))
    assert layer._derived[name][1] is not kept


# -- names -------------------------------------------------------------------------------------

def test_one_list_of_names():
    assert tuple(Impl) == IMPLS == realizations.IMPL_NAMES
    assert set(PINNED) == set(IMPLS) - {"auto"} == set(realizations.REALIZATIONS)
    assert set(hetconv_module._FORWARD) == set(PINNED)


def test_realizations_module_is_torch_free():
    code = "import sys, hetcalc.realizations; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"


def test_extra_macs_rejects_auto_and_unknown_names():
    with pytest.raises(ValueError, match="impl must be one of exact, .*, got 'auto'"):
        realizations.extra_macs("auto", (4, 4), 8, 8, (3, 3), 2)
    with pytest.raises(ValueError, match="got 'slow'"):
        realizations.extra_macs("slow", (4, 4), 8, 8, (3, 3), 2)


# -- what the counters see ---------------------------------------------------------------------

# (id, dims, M, N, kernel, stride, padding, P, input size, batch, output size)
COUNT_CASES = [
    ("2d-p4", 2, 8, 16, 3, 1, 1, 4, (9, 13), 2, (9, 13)),
    # out = floor((9 + 0 - 3) / 2) + 1 = 4, floor((13 - 5) / 2) + 1 = 5
    ("2d-3x5-stride2-p2", 2, 8, 8, (3, 5), 2, 0, 2, (9, 13), 1, (4, 5)),
    ("2d-pM", 2, 8, 8, 3, 1, 1, 8, (6, 6), 3, (6, 6)),
    ("1d-p4", 1, 8, 16, 3, 1, 1, 4, (20,), 2, (20,)),
    ("3d-p2", 3, 4, 8, 3, 1, 1, 2, (4, 5, 6), 2, (4, 5, 6)),
]


@pytest.mark.parametrize("grad", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("dims", "m", "n", "kernel", "stride", "padding", "part", "size",
                          "batch", "out"), [c[1:] for c in COUNT_CASES],
                         ids=[c[0] for c in COUNT_CASES])
def test_counted_macs_are_eq4_plus_the_stated_overhead(impl, grad, dims, m, n, kernel, stride,
                                                       padding, part, size, batch, out):
    layer = CLASSES[dims](m, n, kernel, part, stride, padding, impl=impl)
    k = (kernel,) * dims if isinstance(kernel, int) else kernel
    eq4 = formulas.flops_hetconv(out, m, n, k, part)
    counted_as = "exact" if impl == "auto" else impl  # nothing timed while counting: exact
    expected = batch * (eq4 + realizations.extra_macs(counted_as, out, m, n, k, part))
    x = torch.randn(batch, m, *size)
    with torch.set_grad_enabled(grad):
        fvcore = (FlopCountAnalysis(layer, x).unsupported_ops_warnings(False)
                  .uncalled_modules_warnings(False).tracer_warnings("none"))
        assert fvcore.total() == expected
        with FlopCounterMode(display=False) as counter:
            layer(x)
    assert counter.get_total_flops() // 2 == expected
    assert auto_choices() == {}  # under either counter nothing was timed


# Hand-written overheads (per image) at Do = 4x4, M = 8, N = 16, K = 3x3, P = 4.
@pytest.mark.parametrize(("impl", "extra"), [
    ("exact", 0), ("exact-cl", 0), ("gemm", 0), ("gemm-rows", 0), ("branches", 0),
    ("fast", 4 * 4 * 16 * (8 // 4)), ("fast-cl", 4 * 4 * 16 * (8 // 4)),
    # FL_S - FL_HC = Do²·N·M·K² − (Do²·N·(M/P)·K² + Do²·N·(M − M/P))
    ("dense", 4 * 4 * 16 * 8 * 9 - (4 * 4 * 16 * 2 * 9 + 4 * 4 * 16 * 6)),
])
def test_stated_overheads(impl, extra):
    assert realizations.extra_macs(impl, (4, 4), 8, 16, (3, 3), 4) == extra
    assert realizations.extra_macs(impl, (4, 4), 8, 16, (3, 3), 1) == 0


def test_counting_on_the_meta_device_runs_exact_under_auto():
    with torch.device("meta"):
        layer = HetConv2d(8, 16, 3, 4, padding=1, impl="auto")
        x = torch.zeros(2, 8, 6, 6)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(x)
    assert counter.get_total_flops() // 2 == 2 * formulas.flops_hetconv((6, 6), 8, 16, (3, 3), 4)
    assert auto_choices() == {}


def test_counting_runs_the_choice_the_cache_holds():
    layer = HetConv2d(8, 16, 3, 4, padding=1, impl="auto")
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        layer(x)  # eager: times and caches a choice for this signature
        (chosen,) = auto_choices().values()
        counted = (FlopCountAnalysis(layer, x).unsupported_ops_warnings(False)
                   .uncalled_modules_warnings(False).tracer_warnings("none")).total()
    eq4 = formulas.flops_hetconv((6, 6), 8, 16, (3, 3), 4)
    assert counted == eq4 + realizations.extra_macs(chosen, (6, 6), 8, 16, (3, 3), 4)


def test_storage_free_counting_weights_are_never_timed(monkeypatch):
    monkeypatch.setattr(hetconv_module, "_time_realizations", _no_timing)
    with torch.device("meta"):
        layer = HetConv2d(8, 16, 3, 4, padding=1, impl="auto")
    materialize_zero(layer)
    with torch.no_grad():
        assert layer(torch.zeros(1, 8, 6, 6)).shape == (1, 16, 6, 6)
    assert layer.chosen_impl == "exact" and auto_choices() == {}


def _no_timing(*args, **kwargs):
    raise AssertionError("auto timed realizations where it must not")


@pytest.mark.parametrize("impl", [*PINNED, "auto"])
def test_explain_difference_names_each_realization(impl):
    shape = ConvShape(in_channels=8, out_channels=16, kernel=(3, 3), stride=(1, 1),
                      padding=(1, 1), dilation=(1, 1), groups=1, bias=False, input_size=(4, 4),
                      output_size=(4, 4), batch=2)
    analytic = 2 * formulas.flops_hetconv((4, 4), 8, 16, (3, 3), 4)
    for ran in PINNED:
        extra = 2 * realizations.extra_macs(ran, (4, 4), 8, 16, (3, 3), 4)
        layer = LayerReport(name="conv", shape=shape, substituted=True, flops_standard=0,
                            flops_analytic=analytic, flops_counted=analytic + extra,
                            params_standard=0, params_variant=0, note=None)
        note = explain_difference(layer, part_variant(4), impl)
        if extra == 0:
            assert note is None
        elif impl in (ran, "auto"):
            assert f"{extra:,} MACs more than Eq. 4" in note
            assert ("auto chose" in note) == (impl == "auto")
        elif realizations.REALIZATIONS[impl].formula != realizations.REALIZATIONS[ran].formula:
            assert note.endswith("with no known cause")


# -- auto --------------------------------------------------------------------------------------

def test_auto_picks_a_realization_caches_it_and_is_deterministic_afterwards(monkeypatch):
    layer = HetConv2d(8, 16, 3, 4, padding=1, impl="auto")
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        first = layer(x)
    choices = auto_choices()
    assert len(choices) == 1
    (key, chosen), = choices.items()
    assert chosen in PINNED and layer.chosen_impl == chosen
    with torch.no_grad():
        assert key == layer.signature(x)
    assert key[9:] == ((2, 8, 6, 6), "cpu", "torch.float32", "contiguous", False, 1, False, False)
    monkeypatch.setattr(hetconv_module, "_time_realizations", _no_timing)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), first)  # the cached choice: no timing
        twin = HetConv2d(8, 16, 3, 4, padding=1, impl="auto")
        twin(x)  # another layer of the same shape shares the choice
    assert twin.chosen_impl == chosen


def test_auto_times_again_for_another_signature():
    layer = HetConv2d(8, 16, 3, 4, padding=1, impl="auto")
    with torch.no_grad():
        layer(torch.randn(1, 8, 6, 6))
        layer(torch.randn(3, 8, 6, 6))
        layer(torch.randn(3, 8, 6, 6).contiguous(memory_format=torch.channels_last))
    layer(torch.randn(1, 8, 6, 6))  # grad enabled
    keys = sorted(auto_choices(), key=str)
    assert len(keys) == 4
    assert {(k[9], k[12], k[13]) for k in keys} == {
        ((1, 8, 6, 6), "contiguous", False), ((3, 8, 6, 6), "contiguous", False),
        ((3, 8, 6, 6), "channels_last", False), ((1, 8, 6, 6), "contiguous", True)}


def test_auto_choices_can_be_cleared():
    layer = HetConv2d(8, 8, 3, 2, padding=1, impl="auto")
    with torch.no_grad():
        layer(torch.randn(1, 8, 4, 4))
    assert auto_choices()
    clear_auto_choices()
    assert auto_choices() == {}


def test_auto_candidates_are_timed_interleaved_and_the_least_time_wins(monkeypatch):
    calls = []
    costs = {"exact": 3, "exact-cl": 1, "fast": 2, "fast-cl": 50, "gemm": 4, "gemm-rows": 7,
             "branches": 6, "dense": 5}
    clock = [0.0]

    def run(name):
        calls.append(name)
        clock[0] += costs[name]

    monkeypatch.setattr(auto_module.time, "perf_counter", lambda: clock[0])
    chosen = auto_module._time_realizations(run, PINNED, torch.device("cpu"))
    assert chosen == "exact-cl"
    assert "fast-cl" not in calls[2 * len(PINNED):]  # over AUTO_PRUNE x the fastest: dropped


@pytest.mark.parametrize("impl", PINNED)
def test_pinning_runs_that_realization_and_caches_nothing(impl, monkeypatch):
    monkeypatch.setattr(hetconv_module, "_time_realizations", _no_timing)
    layer = make(2, 8, 16, 3, 1, 1, 1, 4, impl)
    x = torch.randn(2, 8, 5, 5, dtype=DTYPE)
    torch.testing.assert_close(layer(x), reference(layer, x))
    assert layer.chosen_impl == impl and auto_choices() == {}


def test_part_one_is_a_standard_conv_whatever_the_realization(monkeypatch):
    monkeypatch.setattr(hetconv_module, "_time_realizations", _no_timing)
    layer = make(2, 8, 8, 3, 1, 1, 1, 1, "auto")
    x = torch.randn(2, 8, 5, 5, dtype=DTYPE)
    torch.testing.assert_close(layer(x), reference(layer, x))
    assert layer.chosen_impl == "exact" and auto_choices() == {}


# -- compile, trace, export --------------------------------------------------------------------

@pytest.mark.parametrize("impl", IMPLS)
def test_jit_trace_at_one_batch_runs_at_another(impl):
    layer = make(2, 8, 16, 3, 1, 1, 1, 4, impl).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated; tracer warnings
        with torch.no_grad():
            traced = torch.jit.trace(layer, torch.randn(1, 8, 9, 13, dtype=DTYPE))
        traced_grad = torch.jit.trace(layer, torch.randn(3, 8, 9, 13, dtype=DTYPE))
    for module, batch in ((traced, 2), (traced, 1), (traced_grad, 1), (traced_grad, 4)):
        x = torch.randn(batch, 8, 9, 13, dtype=DTYPE)
        with torch.no_grad():
            torch.testing.assert_close(module(x), reference(layer, x))


@pytest.mark.parametrize("impl", IMPLS)
def test_jit_trace_of_strided_layers_runs_at_another_batch(impl):
    layer = make(2, 8, 8, (3, 5), 2, (2, 1), 2, 2, impl).eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(layer, torch.randn(2, 8, 9, 13, dtype=DTYPE))
        x = torch.randn(5, 8, 9, 13, dtype=DTYPE)
        torch.testing.assert_close(traced(x), reference(layer, x))


def _compile_and_check(impl: str, backend: str) -> HetConv2d:
    """``torch.compile(backend=backend, fullgraph=True)`` of one layer on ``impl``: no graph
    break; the masked dense conv's output at two batch sizes without autograd, and output and
    input gradient with it."""
    layer = make(2, 8, 16, 3, 1, 1, 1, 4, impl).to(torch.float32).eval()
    compiled = torch.compile(layer, fullgraph=True, backend=backend)
    for batch in (1, 3):
        x = torch.randn(batch, 8, 9, 13)
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), reference(layer, x), rtol=1e-4, atol=1e-4)
    x = torch.randn(2, 8, 9, 13, requires_grad=True)
    out = compiled(x)
    torch.testing.assert_close(out, reference(layer, x), rtol=1e-4, atol=1e-4)
    (grad,) = torch.autograd.grad(out.sum(), x)
    (wanted,) = torch.autograd.grad(reference(layer, x).sum(), x)
    torch.testing.assert_close(grad, wanted, rtol=1e-4, atol=1e-4)
    return layer


@pytest.mark.slow
@pytest.mark.parametrize("impl", PINNED)
def test_torch_compile(impl):
    """Inductor on the CPU (needs a C++ compiler), with and without autograd, no graph break,
    at two batch sizes: every realization that has operators of its own (``auto`` has none, see
    the next test)."""
    torch._dynamo.reset()
    _compile_and_check(impl, "inductor")
    torch._dynamo.reset()


def _captured_graphs(impl: str) -> list[str]:
    """The FX graphs (as code) that dynamo captures compiling a layer on ``impl`` at batch 1
    and 3 without autograd and at batch 2 with it, the layer then run eagerly."""
    graphs: list[str] = []

    def capture(graph_module, example_inputs):
        graphs.append(graph_module.code)
        return graph_module.forward

    torch._dynamo.reset()
    layer = make(2, 8, 16, 3, 1, 1, 1, 4, impl).to(torch.float32).eval()
    compiled = torch.compile(layer, fullgraph=True, backend=capture)
    with torch.no_grad():
        for batch in (1, 3):
            compiled(torch.randn(batch, 8, 9, 13))
    compiled(torch.randn(2, 8, 9, 13, requires_grad=True))
    torch._dynamo.reset()
    return graphs


def test_torch_compile_of_auto_is_the_exact_graph():
    """``auto`` inside a compiled graph runs the realization eager calls chose for the layer,
    else ``exact`` (nothing is timed while compiling): dynamo captures, with no graph break,
    exactly the graphs it captures for ``exact``, whose inductor compile test_torch_compile
    checks. Dynamo and AOT autograd (no inductor) check the function and gradient here."""
    graphs = _captured_graphs("auto")
    assert graphs and graphs == _captured_graphs("exact")
    torch._dynamo.reset()
    layer = _compile_and_check("auto", "aot_eager")
    torch._dynamo.reset()
    assert layer.chosen_impl in (None, "exact") and auto_choices() == {}


ONNX_MISSING = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]


@pytest.mark.skipif(bool(ONNX_MISSING), reason=f"ONNX export needs {' and '.join(ONNX_MISSING)} "
                    "(optional, not a dependency of hetcalc)")
@pytest.mark.parametrize("impl", IMPLS)
def test_onnx_export_with_a_dynamic_batch(impl, tmp_path, capsys):
    from onnx.reference import ReferenceEvaluator

    layer = make(2, 8, 16, 3, 1, 1, 1, 4, impl).to(torch.float32).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(layer, (torch.randn(2, 8, 9, 13),), dynamo=True,
                                    dynamic_shapes=({0: torch.export.Dim("batch")},))
    capsys.readouterr()  # the exporter reports its steps on stdout
    evaluator = ReferenceEvaluator(program.model_proto)
    name = program.model_proto.graph.input[0].name
    for batch in (1, 3):
        x = torch.randn(batch, 8, 9, 13)
        (out,) = evaluator.run(None, {name: x.numpy()})
        torch.testing.assert_close(torch.from_numpy(out), reference(layer, x),
                                   rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("impl", IMPLS)
def test_every_realization_on_cuda(impl):
    layer = make(2, 8, 16, 3, 1, 1, 1, 4, impl).to("cuda", torch.float32)
    x = torch.randn(2, 8, 9, 13, device="cuda")
    with torch.no_grad():
        torch.testing.assert_close(layer(x), reference(layer, x), rtol=1e-4, atol=1e-4)
        if impl == "auto":
            assert layer.chosen_impl in PINNED and auto_choices()


@pytest.mark.slow
def test_measure_compiles_every_model():
    from hetcalc.latency import LatencySettings, measure

    torch._dynamo.reset()
    conv = nn.Conv2d(8, 16, 3, padding=1, bias=False)
    layer = HetConv2d.from_dense(conv, 4, "auto")
    settings = LatencySettings(device="cpu", threads=1, min_run_time=0.05, rounds=2,
                               compile=True)
    timed = measure({"standard": conv, "variant": layer}, (1, 8, 6, 6), settings)
    assert set(timed) == {"standard", "variant"} and all(t.median_ms > 0 for t in timed.values())
    assert layer.chosen_impl in PINNED  # the eager call before compiling chose
    torch._dynamo.reset()


class _Clocked(nn.Module):
    """Two auto HetConv layers whose every call advances a fake clock by what their current
    realizations cost together."""

    def __init__(self, clock: list[float], costs: dict[str, float]) -> None:
        super().__init__()
        self.a = HetConv2d(8, 8, 3, 4, padding=1, impl="auto")
        self.b = HetConv2d(8, 8, 3, 4, padding=1, impl="auto")
        self.clock, self.costs = clock, costs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.b(torch.relu(self.a(x)))
        self.clock[0] += sum(self.costs[layer.chosen_impl] for layer in (self.a, self.b))
        return y


def test_tune_pins_the_fastest_whole_model_configuration(monkeypatch):
    """auto alone picks exact for each layer (each layer's own timing); the whole model is
    cheaper with both on fast-cl, which only timing the model as a whole can see."""
    clock = [0.0]
    costs = dict.fromkeys(PINNED, 5.0) | {"exact": 3.0, "fast-cl": 1.0}
    monkeypatch.setattr(hetconv_module, "_time_realizations", lambda run, names, device: "exact")
    monkeypatch.setattr(auto_module.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(tune_module, "TUNE_MAX_CALL_SECONDS", 100.0)
    model = _Clocked(clock, costs)
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        expected = F.conv2d(F.relu(F.conv2d(x, model.a.to_dense(), padding=1)),
                            model.b.to_dense(), padding=1)
        chosen = tune_realizations(model, x)
        assert chosen == {"a": "fast-cl", "b": "fast-cl"}
        assert model.a.impl == model.b.impl == "fast-cl" == model.a.chosen_impl
        torch.testing.assert_close(model(x), expected)  # the same function, as ever


def test_tune_keeps_the_per_layer_choice_when_it_is_fastest(monkeypatch):
    clock = [0.0]
    costs = dict.fromkeys(PINNED, 5.0) | {"exact": 1.0}
    monkeypatch.setattr(hetconv_module, "_time_realizations", lambda run, names, device: "exact")
    monkeypatch.setattr(auto_module.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(tune_module, "TUNE_MAX_CALL_SECONDS", 100.0)
    model = _Clocked(clock, costs)
    with torch.no_grad():
        assert tune_realizations(model, torch.randn(1, 8, 5, 5)) == {"a": "exact", "b": "exact"}


def test_tune_mixes_realizations_layer_by_layer_as_timed_inside_the_model(monkeypatch):
    """Each layer's own timing says gemm for both; inside the model ``a`` is fastest on exact
    and ``b`` on fast (both contiguous, so they mix without a layout change), a model of
    3 + 1 = 4 clock units a call, which beats every uniform configuration (exact 3 + 4, fast
    5 + 1, the rest 5 + 5) and the per-layer choices (gemm, 5 + 5)."""
    clock = [0.0]
    per_layer = {"a": dict.fromkeys(PINNED, 5.0) | {"exact": 3.0, "fast": 5.0},
                 "b": dict.fromkeys(PINNED, 5.0) | {"exact": 4.0, "fast": 1.0}}
    monkeypatch.setattr(hetconv_module, "_time_realizations", lambda run, names, device: "gemm")
    monkeypatch.setattr(auto_module.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(tune_module, "TUNE_MAX_CALL_SECONDS", 100.0)
    model = _Clocked(clock, dict.fromkeys(PINNED, 0.0))  # the layers' own hooks tick the clock
    for name in ("a", "b"):
        getattr(model, name).register_forward_hook(
            lambda m, args, out, name=name: clock.__setitem__(
                0, clock[0] + per_layer[name][m.chosen_impl]))
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        expected = F.conv2d(F.relu(F.conv2d(x, model.a.to_dense(), padding=1)),
                            model.b.to_dense(), padding=1)
        assert tune_realizations(model, x) == {"a": "exact", "b": "fast"}
        torch.testing.assert_close(model(x), expected)


def test_tune_leaves_what_it_cannot_or_need_not_tune(monkeypatch):
    x = torch.randn(1, 8, 5, 5)
    with torch.no_grad():
        lone = HetConv2d(8, 8, 3, 4, padding=1, impl="auto")
        assert tune_realizations(lone, x) is None  # one layer: auto's own timing decides
        pinned = nn.Sequential(HetConv2d(8, 8, 3, 4, padding=1), HetConv2d(8, 8, 3, 4, padding=1))
        assert tune_realizations(pinned, x) is None  # nothing on auto
        monkeypatch.setattr(tune_module, "TUNE_MAX_CALL_SECONDS", 0.0)
        slow = nn.Sequential(HetConv2d(8, 8, 3, 4, padding=1, impl="auto"),
                             HetConv2d(8, 8, 3, 4, padding=1, impl="auto"))
        assert tune_realizations(slow, x) is None
        assert [layer.impl for layer in slow] == ["auto", "auto"]  # left as built


def test_measure_tunes_then_gives_the_model_back_on_auto():
    from hetcalc.latency import LatencySettings, measure

    model = nn.Sequential(HetConv2d(8, 8, 3, 4, padding=1, impl="auto"), nn.ReLU(),
                          HetConv2d(8, 8, 3, 4, padding=1, impl="auto"))
    timed = measure({"m": model}, (1, 8, 6, 6),
                    LatencySettings(device="cpu", min_run_time=0.05, rounds=3))
    ran = dict(timed["m"].realizations)
    assert set(ran) == {"0", "2"} and set(ran.values()) <= set(PINNED)
    # timed as a copy with the residue order carried from layer 0 to layer 2: the model
    # itself is left as built, on auto, never called
    assert timed["m"].carried == (("0", "2"),)
    assert [model[0].impl, model[2].impl] == ["auto", "auto"]
    assert model[0].chosen_impl is None and not model[0].residue_out
