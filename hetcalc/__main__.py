"""``python -m hetcalc``: the ``hetcalc`` command."""

from hetcalc.cli import run

run()
