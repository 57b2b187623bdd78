"""Per-layer plans: which variant each convolution takes, and the mildest plan that meets a
budget (``hetcalc plan``).

* :mod:`~hetcalc.plan.file`: the :class:`Plan` (layer name -> variant) and its TOML file;
* :mod:`~hetcalc.plan.solve`: the exact multiple-choice knapsack solver (Pareto frontiers);
* :mod:`~hetcalc.plan.search`: a model's candidates, budgets and the plan that meets them
  (imports torch; import it explicitly);
* :mod:`~hetcalc.plan.timing`: per-layer latencies of the candidates and of a plan's layers.

Importing this package does not import torch (budget files name plans, and are validated
without it).
"""

from hetcalc.plan.file import PLAN_SUFFIX, Plan, as_plan, is_plan_path, parse_plan, plan_toml, read_plan
from hetcalc.plan.solve import Option, Solution, lowest, solve

__all__ = ["PLAN_SUFFIX", "Plan", "as_plan", "is_plan_path", "parse_plan", "plan_toml",
           "read_plan", "Option", "Solution", "lowest", "solve"]
