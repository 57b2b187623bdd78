"""Budget files: what each model may cost, checked in CI (``hetcalc check``).

* :mod:`~hetcalc.budget.values`: the numbers, shares and shapes a budget file holds;
* :mod:`~hetcalc.budget.schema`: the file's keys, and reading and validating it. Syntax
  only: no model code is imported or run, and torch is not loaded;
* :mod:`~hetcalc.budget.discover`: which file ``hetcalc check`` uses when none is named;
* :mod:`~hetcalc.budget.evaluate`: the entries' verdicts; the only place a model builder named
  by the file runs (entry by entry);
* :mod:`~hetcalc.budget.baseline`: regression mode (record flops and params, find growth).

Nothing here prints; :mod:`hetcalc.render.budget` shapes the results, the CLI writes them.
Importing this package does not import torch: :mod:`~hetcalc.budget.evaluate` loads it when it
evaluates.
"""

from hetcalc.budget.baseline import (
    BASELINE_FORMAT,
    BASELINE_METRICS,
    BaselineRecord,
    Change,
    CheckRun,
    Regression,
    baseline_document,
    find_regressions,
    read_baseline,
    write_baseline,
)
from hetcalc.budget.discover import find_budget_file
from hetcalc.budget.evaluate import (
    Check,
    EntryResult,
    evaluate,
    latency_settings,
    measure_latency,
    preflight,
)
from hetcalc.budget.schema import (
    BUDGETS_TOML,
    DEFAULT_KEYS,
    DEVICES,
    DTYPES,
    ENTRY_KEYS,
    LATENCY_KEYS,
    LIMIT_KEYS,
    PYPROJECT_TOML,
    TOP_KEYS,
    BudgetError,
    BudgetFile,
    Entry,
    EntryCheck,
    Metric,
    load_budget_file,
    parse_budgets,
)
from hetcalc.budget.values import (
    MAX_COUNT,
    NUMBER_FORMS,
    SHAPE_FORMS,
    describe,
    parse_count,
    parse_fraction,
    parse_tolerance,
)

__all__ = [
    "BASELINE_FORMAT", "BASELINE_METRICS", "BUDGETS_TOML", "DEFAULT_KEYS", "DEVICES", "DTYPES",
    "ENTRY_KEYS", "LATENCY_KEYS", "LIMIT_KEYS", "MAX_COUNT", "NUMBER_FORMS", "PYPROJECT_TOML",
    "SHAPE_FORMS", "TOP_KEYS", "BaselineRecord", "BudgetError", "BudgetFile", "Change", "Check",
    "CheckRun", "Entry", "EntryCheck", "EntryResult", "Metric", "Regression", "baseline_document",
    "describe", "evaluate", "find_budget_file", "find_regressions", "latency_settings",
    "load_budget_file", "measure_latency", "parse_budgets", "parse_count", "parse_fraction",
    "parse_tolerance", "preflight", "read_baseline", "write_baseline",
]
