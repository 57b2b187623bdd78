import functools
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from hetcalc.analysis import trace_spec
from hetcalc.cli import main


def pytest_configure(config):
    """Device measurements (``hetcalc device``, compare's roofline) are cached outside the
    user's own cache and shared by the test workers: the machine is measured once, not by
    every test that times."""
    os.environ.setdefault("HETCALC_CACHE_DIR",
                          str(Path(tempfile.gettempdir()) / f"hetcalc-tests-{os.getuid()}"))
    _share_the_cores_between_workers()


def _share_the_cores_between_workers() -> None:
    """Under pytest-xdist each worker runs torch on its share of the cores (one thread a
    worker for ``-n 2`` on two cores, as CI runs): a worker with as many threads as the machine
    has cores, beside others doing the same, only contends for them. Tests that time set their
    own thread count."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config, items):
    """The tests marked ``slow`` (the sweep over every registered model, the compile tests)
    first, in their order: each is long, and a long test left for last keeps one xdist worker
    busy after the other has finished (``--dist worksteal`` shares the rest)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def vgg_trace():
    """One traced VGG-16-CIFAR, shared: tracing is the expensive step."""
    return trace_spec("vgg16_cifar")


@pytest.fixture(scope="session")
def resnet50_trace():
    return trace_spec("resnet50")


@pytest.fixture(scope="module")
def trace_once():
    """``analysis.trace_spec`` cached for a module's tests: tracing is the slow part and its
    result depends only on (model, input shape)."""
    from hetcalc import analysis

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analysis, "trace_spec", functools.lru_cache(maxsize=None)(
            analysis.trace_spec))
        yield


@pytest.fixture(scope="module")
def count_once():
    """``hetcalc.pipeline.Subject.trace`` and ``Subject.count`` cached for a module's tests, for
    registered models (by name, input shape, and what is counted): the whole command still runs
    (build, plan, report, render), but a model is counted once however many commands count it.
    Not for tests that change how counting works (monkeypatching hetcalc.trace)."""
    from hetcalc import models, pipeline

    traced, counted = pipeline.Subject.trace, pipeline.Subject.count
    cache: dict[tuple, object] = {}
    names = {entry.name for entry in models.list_models()}

    def registered(subject) -> bool:
        build = subject.build  # partial(models.build, entry) for a model spec
        return (isinstance(build, functools.partial) and build.func is models.build
                and bool(build.args) and build.args[0].name in names)

    def trace(self, fold_bn=False):
        if not registered(self):
            return traced(self, fold_bn)
        key = ("trace", self.name, self.input_shape, fold_bn)
        if key not in cache:
            cache[key] = traced(self, fold_bn)
        return cache[key]

    def count(self, decisions, impl=pipeline.DEFAULT_IMPL, fold_bn=False):
        if not registered(self):
            return counted(self, decisions, impl, fold_bn)
        realizations = tuple(sorted(impl.items())) if isinstance(impl, Mapping) else str(impl)
        key = ("count", self.name, self.input_shape, tuple(decisions), realizations, fold_bn)
        if key not in cache:
            cache[key] = counted(self, decisions, impl, fold_bn)
        return cache[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline.Subject, "trace", trace)
        patch.setattr(pipeline.Subject, "count", count)
        yield


@pytest.fixture
def no_downloads(monkeypatch):
    """Every way torchvision fetches weights raises: a build that tried would fail."""
    import torch.hub
    import torchvision.models._api as api

    def refuse(*args, **kwargs):
        raise AssertionError(f"a weight download was attempted: {args} {kwargs}")

    monkeypatch.setattr(api.WeightsEnum, "get_state_dict", refuse)
    monkeypatch.setattr(api, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


@pytest.fixture
def cli(capsys):
    """Run ``hetcalc ARGS...`` in-process; return (exit code, stdout, stderr)."""

    def run(*args: str):
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true",
                     help="Rewrite tests/golden/*.json from today's output (intended changes only).")
