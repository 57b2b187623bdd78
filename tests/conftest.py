import functools
import os
import tempfile
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
