"""``python -m hetcalc.cli``: the ``hetcalc`` command."""

from hetcalc.cli import run

run()
