"""How latency is measured, as plain, torch-free settings (the CLI and budget files validate them
before torch is imported; :mod:`hetcalc.latency` does the measuring)."""

from __future__ import annotations

from dataclasses import dataclass

from hetcalc.errors import InvalidArgument, require_positive
from hetcalc.numbers import shown

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float16", "bfloat16")
MAX_BATCH_SIZE = 65536
"""The largest batch a timing runs (and ``--batch-size`` takes); memory is checked besides."""
MAX_THREADS = 1024
"""The most CPU threads a timing asks torch for (``--threads``)."""
MIN_RUN_TIME = 0.001
MAX_RUN_TIME = 3600.0
"""Seconds of timing per model or layer pair (``--time-budget``): 1 ms to an hour."""
SPREAD_LIMIT = 0.10
"""A latency whose interquartile range exceeds this share of its median is marked unreliable."""
UNRELIABLE_MARK = "!"
BUSY_LIMIT = 0.10
"""A share of the machine's CPU time that other processes took while ``hetcalc device``
measured, above which its figures are said to be likely low (one busy core of ten)."""
"""What tables put after a ratio whose latencies are too spread to trust (:data:`SPREAD_LIMIT`)."""


def unreliable_note(budget_flag: str = "--time-budget", threads: int | None = None) -> str:
    """The sentence a table's note gives for :data:`UNRELIABLE_MARK`; ``threads``: the count
    the run used (a run at 1 thread is not told to rerun at 1 thread)."""
    advice = (f"a longer {budget_flag}, on an idle machine" if threads == 1
              else f"--threads 1 or a longer {budget_flag}")
    return (f"the spread (interquartile range) of a timing is over {SPREAD_LIMIT:.0%} of its "
            "median, so the ratio cannot be trusted: another process competes for the cores, "
            f"or the run was too short. Rerun with {advice}.")


@dataclass(frozen=True)
class LatencySettings:
    """How to measure: where, on what input, and for how long (``min_run_time`` seconds per
    model, spread over ``rounds`` interleaved rounds)."""

    device: str = "auto"
    batch_size: int = 1
    threads: int | None = None
    dtype: str = "float32"
    channels_last: bool = False
    min_run_time: float = 1.0
    rounds: int = 10
    compile: bool = False
    """Compile every model (baseline and variants alike) with ``torch.compile`` before its
    warm-up, so the figures compare compiled models."""

    def validate(self) -> LatencySettings:
        """Check every field (:meth:`check`) and that the device exists here; raise
        :class:`InvalidArgument` naming the first bad one."""
        self.check()
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise InvalidArgument("device cuda: no CUDA device is available here (use cpu, "
                                      "or auto to pick CUDA when present)", argument="device")
        return self

    def check(self) -> LatencySettings:
        """Check every field's form and range, without torch (so a command checks its timing
        options whether or not it times anything); raise :class:`InvalidArgument` naming the
        first bad one."""
        if self.device not in DEVICES:
            raise InvalidArgument(f"device must be one of {', '.join(DEVICES)}, got "
                                  f"{self.device!r}", argument="device")
        if self.dtype not in DTYPES:
            raise InvalidArgument(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}",
                                  argument="dtype")
        _bounded_int("batch_size", self.batch_size, MAX_BATCH_SIZE)
        if self.threads is not None:
            _bounded_int("threads", self.threads, MAX_THREADS)
        require_positive(rounds=self.rounds)
        if not isinstance(self.compile, bool):
            raise InvalidArgument(f"compile must be true or false, got {self.compile!r}",
                                  argument="compile")
        time = self.min_run_time
        if (isinstance(time, bool) or not isinstance(time, int | float)
                or not 0 < time < float("inf")):  # nan compares False
            raise InvalidArgument(f"min_run_time must be a finite, positive number of seconds, "
                                  f"got {time!r}", argument="min_run_time")
        if not MIN_RUN_TIME <= time <= MAX_RUN_TIME:
            raise InvalidArgument(f"min_run_time must be from {MIN_RUN_TIME} to "
                                  f"{MAX_RUN_TIME:.0f} seconds, got {time!r}",
                                  argument="min_run_time")
        return self


def _bounded_int(name: str, value: object, high: int) -> None:
    """``value`` is an ``int`` (not a ``bool``) from 1 to ``high``; else :class:`InvalidArgument`
    naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(f"{name} must be a positive integer, got {value!r}",
                              argument=name)
    if value > high:
        raise InvalidArgument(f"{name} must be a positive integer, at most {high}, got "
                              f"{shown(value)}", argument=name)
