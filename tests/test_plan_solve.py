"""The exact solver: every answer checked against enumerating every plan."""

from __future__ import annotations

import itertools
import random

import pytest

from hetcalc.plan.solve import Option, lowest, solve


def brute_force(groups, limits):
    """The best plan by enumeration: largest value, then lowest costs (the solver's order)."""
    best = None
    for combo in itertools.product(*(range(len(g)) for g in groups)):
        cost = tuple(sum(groups[i][c].cost[d] for i, c in enumerate(combo))
                     for d in range(len(limits)))
        if any(cost[d] > limits[d] for d in range(len(limits))):
            continue
        value = tuple(map(sum, zip(*(groups[i][c].value for i, c in enumerate(combo)),
                                   strict=True)))
        key = (value, tuple(-c for c in cost))
        if best is None or key > best[0]:
            best = (key, combo)
    return best


def test_one_budget_by_hand():
    # Three layers, (MACs added, K x K kept): the best within 10 keeps 9 + 7 + 0.
    groups = [[Option((0,), (9,)), Option((-5,), (3,))],
              [Option((0,), (7,)), Option((-4,), (2,))],
              [Option((0,), (5,)), Option((-6,), (0,))]]
    solution = solve(groups, [-6])
    assert solution is not None
    assert solution.choices == (0, 0, 1) and solution.value == (9 + 7 + 0,)
    assert solution.cost == (-6,)


def test_infeasible_gives_none_and_lowest_is_the_floor():
    groups = [[Option((0, 0), (1,)), Option((-5, 2), (0,))],
              [Option((0, 0), (1,)), Option((-4, -1), (0,))]]
    assert lowest(groups, 2) == (-5 + -4, 0 + -1)
    assert solve(groups, [-10, 5]) is None  # below the floor of cost 0
    assert solve(groups, [-9, 0]) is None   # each reachable alone, not together
    assert solve(groups, [-9, 1]).choices == (1, 1)


@pytest.mark.parametrize("seed", range(6))
def test_random_instances_match_brute_force(seed):
    rng = random.Random(seed)
    for _ in range(150):
        dims = rng.choice([1, 2, 3])
        groups = [[Option(tuple(rng.randint(-6, 20) for _ in range(dims)),
                          (rng.randint(0, 30), -rng.randint(0, 1)))
                   for _ in range(rng.randint(1, 4))] for _ in range(rng.randint(1, 5))]
        limits = [rng.randint(-12, 50) for _ in range(dims)]
        expected = brute_force(groups, limits)
        solution = solve(groups, limits)
        if expected is None:
            assert solution is None
            continue
        assert solution is not None
        assert (solution.value, tuple(-c for c in solution.cost)) == expected[0]
        chosen = [groups[i][c] for i, c in enumerate(solution.choices)]
        assert solution.cost == tuple(map(sum, zip(*(o.cost for o in chosen), strict=True)))


def test_float_costs_match_brute_force():
    rng = random.Random(7)
    for _ in range(100):
        groups = [[Option((rng.uniform(-3, 1),), (rng.randint(0, 9),)) for _ in range(3)]
                  for _ in range(4)]
        limit = [rng.uniform(-6, 0)]
        expected = brute_force(groups, limit)
        solution = solve(groups, limit)
        assert (solution is None) == (expected is None)
        if solution is not None:
            assert solution.value == expected[0][0]


def test_no_groups_is_the_empty_plan():
    assert solve([], [0]).choices == ()
