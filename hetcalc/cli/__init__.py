"""The ``hetcalc`` command line: parse, call the library, render, map errors to exit codes.

Errors are handled here and only here: a :class:`~hetcalc.errors.HetcalcError` or a usage error
becomes one line on stderr and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
import traceback

import typer

from hetcalc.errors import HetcalcError

app = typer.Typer(
    name="hetcalc",
    help="What a convolution costs, and what HetConv, GWC+PWC or DWC+PWC would save: "
         "analytic (the paper's Eqs. 1-12), counted (fvcore) and measured. FLOPs are MACs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Commands register themselves on ``app``.
from hetcalc.cli import analyze as _analyze  # noqa: E402,F401
from hetcalc.cli import check as _check  # noqa: E402,F401
from hetcalc.cli import compare as _compare  # noqa: E402,F401
from hetcalc.cli import curve as _curve  # noqa: E402,F401
from hetcalc.cli import designs as _designs  # noqa: E402,F401
from hetcalc.cli import models as _models  # noqa: E402,F401


def _usage_message(error: Exception) -> str:
    message = error.format_message() if hasattr(error, "format_message") else str(error)
    return " ".join(message.replace("Value error, ", "").split())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="hetcalc", standalone_mode=False)
    except HetcalcError as error:
        if debug:
            traceback.print_exc()
        print(f"hetcalc: error: {error}", file=sys.stderr)
        return 2
    except typer.Abort:
        print("hetcalc: aborted", file=sys.stderr)
        return 1
    except Exception as error:
        if hasattr(error, "exit_code") and hasattr(error, "format_message"):  # click usage error
            print(f"hetcalc: error: {_usage_message(error)} (see 'hetcalc --help')",
                  file=sys.stderr)
            return int(error.exit_code)
        if debug:
            raise
        print(f"hetcalc: internal error: {type(error).__name__}: {error} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 3
    return result if isinstance(result, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
