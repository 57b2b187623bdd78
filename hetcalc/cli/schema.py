"""``hetcalc schema COMMAND``: the JSON Schema of a command's ``--format json`` output, as the
package holds it (``hetcalc/schemas/COMMAND.json``). Torch-free: it answers at once."""

from __future__ import annotations

from typing import Annotated

import typer

from hetcalc.cli.options import DebugOption, OutputOption
from hetcalc.cli.streams import writing_stdout
from hetcalc.fileio import atomic_write_text
from hetcalc.schemas import SCHEMA_COMMANDS, schema_text


def schema_command(
    command: Annotated[str, typer.Argument(
        help=f"The command whose JSON it describes: {', '.join(SCHEMA_COMMANDS)}.",
        show_default=False, metavar="COMMAND")],
    output: OutputOption = None,
    debug: DebugOption = False,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a command's --format json output.

    Every command's JSON carries "schema_version"; keys may be added within a version, and
    renaming, removing or changing the meaning of one bumps it (docs/json.md).
    """
    text = schema_text(command)
    if output is not None:
        atomic_write_text(output, text, what="--output")
        return
    with writing_stdout():
        typer.echo(text, nl=False)
