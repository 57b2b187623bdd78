"""The ``hetcalc`` Typer application: every command is registered here, and only here.

Command modules define plain functions and never import this module, so there is no import
loop; none of them imports torch at module level, so building the application for
``hetcalc --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

import hetcalc
from hetcalc.cli.analyze import analyze_command
from hetcalc.cli.check import check_command
from hetcalc.cli.compare import compare_command
from hetcalc.cli.curve import curve_command
from hetcalc.cli.designs import designs_command
from hetcalc.cli.device import device_command
from hetcalc.cli.models import models_command
from hetcalc.cli.options import DebugOption, invocation
from hetcalc.cli.plan import plan_command
from hetcalc.cli.schema import schema_command

HELP = ("What a convolution costs, and what HetConv, GWC+PWC or DWC+PWC would save: analytic "
        "(the paper's Eqs. 1-12), counted (fvcore) and measured. FLOPs are MACs.")

COMMANDS = {
    "analyze": analyze_command,
    "compare": compare_command,
    "plan": plan_command,
    "check": check_command,
    "models": models_command,
    "curve": curve_command,
    "designs": designs_command,
    "device": device_command,
    "schema": schema_command,
}

app = typer.Typer(
    name="hetcalc",
    help=HELP,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["--help", "-h"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hetcalc {hetcalc.__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.",
                                          is_eager=True, callback=_print_version)] = False,
    debug: DebugOption = False,
) -> None:
    """Options before the command apply to every command (``hetcalc --debug analyze ...``)."""
    invocation.command = ctx.invoked_subcommand
    if ctx.invoked_subcommand is None:  # bare ``hetcalc``: the help, as git does
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


for _name, _function in COMMANDS.items():
    app.command(_name)(_function)
