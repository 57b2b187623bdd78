"""How latency is measured, as plain, torch-free settings (the CLI and budget files validate them
before torch is imported; :mod:`hetcalc.latency` does the measuring)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hetcalc.errors import InvalidArgument, require_positive

DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("float32", "float16", "bfloat16")
SPREAD_LIMIT = 0.10
"""A latency whose interquartile range exceeds this share of its median is marked unreliable."""
UNRELIABLE_MARK = "!"
BUSY_LIMIT = 0.10
"""A share of the machine's CPU time that other processes took while ``hetcalc device``
measured, above which its figures are said to be likely low (one busy core of ten)."""
"""What tables put after a ratio whose latencies are too spread to trust (:data:`SPREAD_LIMIT`)."""


def unreliable_note(budget_flag: str = "--time-budget") -> str:
    """The sentence a table's note gives for :data:`UNRELIABLE_MARK`."""
    return (f"the spread (interquartile range) of a timing is over {SPREAD_LIMIT:.0%} of its "
            "median, so the ratio cannot be trusted: another process competes for the cores, "
            f"or the run was too short. Rerun with --threads 1 or a longer {budget_flag}.")


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
        """Check every field; raise :class:`InvalidArgument` naming the first bad one."""
        if self.device not in DEVICES:
            raise InvalidArgument(f"device must be one of {', '.join(DEVICES)}, got "
                                  f"{self.device!r}", argument="device")
        if self.dtype not in DTYPES:
            raise InvalidArgument(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}",
                                  argument="dtype")
        require_positive(batch_size=self.batch_size)
        if self.threads is not None:
            require_positive(threads=self.threads)
        require_positive(rounds=self.rounds)
        if not isinstance(self.compile, bool):
            raise InvalidArgument(f"compile must be true or false, got {self.compile!r}",
                                  argument="compile")
        if (isinstance(self.min_run_time, bool) or not isinstance(self.min_run_time, int | float)
                or not math.isfinite(self.min_run_time) or self.min_run_time <= 0):
            raise InvalidArgument(f"min_run_time must be a finite, positive number of seconds, "
                                  f"got {self.min_run_time!r}", argument="min_run_time")
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise InvalidArgument("device cuda: no CUDA device is available here (use cpu, "
                                      "or auto to pick CUDA when present)", argument="device")
        return self
