"""The exact solver behind ``hetcalc plan``: a multiple-choice knapsack, by dynamic programming
over Pareto frontiers.

Each group (a conv layer) offers a few options (its variants); each option adds a cost vector
(what it changes in each budgeted quantity: MACs, params, milliseconds) and a value vector (what
it keeps; compared lexicographically, larger is better). Pick one option per group so that every
cost total stays within its limit and the value total is the largest.

The solver keeps, after each group, every partial plan that no other partial plan dominates (one
that costs no more in every budget and keeps no less). A dominated partial plan cannot lead to a
better whole plan than the one dominating it (whatever the rest adds to one it adds to the
other), so dropping it loses nothing: the result is exact, with no scaling or rounding of costs.
Partial plans that would break a limit even if every later group took its cheapest option are
dropped too. Time is O(sum over groups of frontier x options), plus sorting each frontier; the
frontier is bounded by the number of distinct (cost, value) points, small in practice because
layers offer few options and many layers share a shape. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Option", "Solution", "solve", "lowest"]

Number = int | float


@dataclass(frozen=True)
class Option:
    """One choice for one group: what it adds to each budgeted quantity, and to the value."""

    cost: tuple[Number, ...]
    value: tuple[int, ...]


@dataclass(frozen=True)
class Solution:
    choices: tuple[int, ...]
    """The index of the option chosen in each group."""
    cost: tuple[Number, ...]
    value: tuple[int, ...]
    frontier: int
    """The largest frontier the search kept (partial plans after one group)."""


def lowest(groups: Sequence[Sequence[Option]], dims: int) -> tuple[Number, ...]:
    """The smallest total each cost can reach on its own (each group at its cheapest there)."""
    return tuple(sum(min(option.cost[d] for option in group) for group in groups)
                 for d in range(dims))


def _pareto(points: dict[tuple[Number, ...], tuple[tuple[int, ...], int, int]]
            ) -> list[tuple[tuple[Number, ...], tuple[tuple[int, ...], int, int]]]:
    """The points no other point dominates (costs no more everywhere, keeps no less).

    Sorted by cost, a point can only be dominated by one before it; with one cost that is the
    best value so far, with several every kept point is checked."""
    ordered = sorted(points.items(), key=lambda item: item[0])
    kept: list[tuple[tuple[Number, ...], tuple[tuple[int, ...], int, int]]] = []
    if ordered and len(ordered[0][0]) == 1:
        best: tuple[int, ...] | None = None
        for cost, entry in ordered:
            if best is None or entry[0] > best:
                kept.append((cost, entry))
                best = entry[0]
        return kept
    for cost, entry in ordered:
        dominated = any(entry[0] <= other[0] and all(c <= o for c, o in zip(oc, cost, strict=True))
                        for oc, other in kept)
        if not dominated:
            kept.append((cost, entry))
    return kept


def solve(groups: Sequence[Sequence[Option]], limits: Sequence[Number]) -> Solution | None:
    """The plan with the largest value whose every cost total is within its limit, or ``None``
    when there is none. Among plans of equal value, the one with the lowest costs (compared in
    order) wins, and among those the first found, so the result is deterministic."""
    dims = len(limits)
    if any(len(option.cost) != dims for group in groups for option in group):
        raise ValueError("every option needs one cost per limit")
    if any(not group for group in groups):
        raise ValueError("every group needs at least one option")
    # rest[i][d]: the least that groups i, i+1, ... can add to cost d.
    rest = [lowest(groups[i:], dims) for i in range(len(groups) + 1)]
    if any(rest[0][d] > limits[d] for d in range(dims)):
        return None
    width = len(groups[0][0].value) if groups else 0
    frontier = [((0,) * dims, ((0,) * width, -1, -1))]
    history: list[list[tuple[int, int]]] = []
    largest = 1
    for i, group in enumerate(groups):
        after = rest[i + 1]
        points: dict[tuple[Number, ...], tuple[tuple[int, ...], int, int]] = {}
        for parent, (cost, (value, _, _)) in enumerate(frontier):
            for index, option in enumerate(group):
                total = tuple(c + o for c, o in zip(cost, option.cost, strict=True))
                if any(total[d] + after[d] > limits[d] for d in range(dims)):
                    continue
                gained = tuple(v + o for v, o in zip(value, option.value, strict=True))
                seen = points.get(total)
                if seen is None or gained > seen[0]:
                    points[total] = (gained, parent, index)
        kept = _pareto(points)
        if not kept:
            return None
        history.append([(entry[1], entry[2]) for _, entry in kept])
        frontier = [(cost, entry) for cost, entry in kept]
        largest = max(largest, len(frontier))
    best = max(range(len(frontier)),
               key=lambda k: (frontier[k][1][0], tuple(-c for c in frontier[k][0])))
    cost, (value, _, _) = frontier[best]
    choices = []
    at = best
    for step in reversed(history):
        parent, index = step[at]
        choices.append(index)
        at = parent
    return Solution(tuple(reversed(choices)), cost, value, largest)
