"""What a planned model may cost, in the budget file's words (:class:`hetcalc.budget.Metric`).

Torch-free, so the command line checks a budget before anything is imported or built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hetcalc.budget.schema import Metric
from hetcalc.errors import InvalidArgument

__all__ = ["ENERGY_OBJECTIVE", "OBJECTIVE", "Budget", "objective", "show"]

OBJECTIVE = ("keep the most K x K kernel weights (sum of params_kxk); ties: fewer layers "
             "changed, then lower costs")
"""What the planner maximizes within a :class:`Budget`, in words (the plan's table and JSON)."""
ENERGY_OBJECTIVE = ("keep the most weight energy of the trained weights (sum over the layers "
                    "of what each keeps of its squared weight norm); ties: fewer layers "
                    "changed, then lower costs")
"""What ``plan --keep energy`` maximizes instead."""


def objective(keep: str) -> str:
    """The objective a plan was solved for, in words (``--keep kxk|energy``)."""
    return ENERGY_OBJECTIVE if keep == "energy" else OBJECTIVE


@dataclass(frozen=True)
class Budget:
    """What the planned model may cost: MACs, params, predicted latency (ms); ``None``: no
    limit on that quantity. At least one is set."""

    max_flops: int | None = None
    max_params: int | None = None
    max_latency_ms: float | None = None

    @property
    def limits(self) -> dict[Metric, int | float]:
        """The metrics limited, in the solver's order (flops, params, latency)."""
        named = {Metric.FLOPS: self.max_flops, Metric.PARAMS: self.max_params,
                 Metric.LATENCY: self.max_latency_ms}
        return {metric: value for metric, value in named.items() if value is not None}

    def validate(self) -> Budget:
        if not self.limits:
            raise InvalidArgument("give at least one budget: " + ", ".join(
                m.limit_key for m in (Metric.FLOPS, Metric.PARAMS)) + " or "
                + Metric.LATENCY.limit_key)
        for metric, value in self.limits.items():
            name = metric.limit_key
            if metric is Metric.LATENCY:
                if (isinstance(value, bool) or not isinstance(value, int | float)
                        or not math.isfinite(value) or value <= 0):
                    raise InvalidArgument(f"{name} must be a finite, positive number of "
                                          f"milliseconds, got {value!r}", argument=name)
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"{name} must be a positive integer, got {value!r}",
                                      argument=name)
        return self


def _count(value: int) -> str:
    for threshold, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value >= threshold:
            return f"{value / threshold:.3f}{suffix} ({value:,})"
    return f"{value:,}"


def show(metric: Metric, value: int | float) -> str:
    """A planned model's value of ``metric``, with its unit (latency is predicted)."""
    match metric:
        case Metric.FLOPS:
            return f"{_count(int(value))} MACs"
        case Metric.PARAMS:
            return f"{_count(int(value))} params"
        case Metric.LATENCY:
            return f"{value:.3f} ms (predicted)"
    raise ValueError(f"a plan is not held to {metric.limit_key}")
