"""``hetcalc check [FILE]``: a CI gate. Exit 0 when every entry is within budget, 1 when any is
over (or grew beyond ``--tolerance`` of ``--baseline``), 2 when the file or an argument is invalid.
"""

from __future__ import annotations

import enum
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, assert_never

import typer

from hetcalc.cli.lazy import lazy_function, lazy_module
from hetcalc.cli.options import DebugOption, OutputOption, emit
from hetcalc.errors import InvalidArgument
from hetcalc.render import OutputFormat, Rendered, render_text

budget = lazy_module("hetcalc.budget")  # imports torch: only when the command runs
render_check = lazy_function("hetcalc.render.budget", "render_check")
render_junit = lazy_function("hetcalc.render.budget", "render_junit")

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


class CheckFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"
    JUNIT = "junit"


def _display(path: Path) -> str:
    """A discovered file as people see it: relative to the current directory when below it."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _write(rendered: Rendered, run: budget.CheckRun, fmt: CheckFormat,
           output: Path | None) -> None:
    match fmt:
        case CheckFormat.TABLE | CheckFormat.JSON | CheckFormat.MARKDOWN:
            emit(rendered, OutputFormat(fmt.value), output)
        case CheckFormat.JUNIT:
            text = render_junit(run)
            if output is None:
                typer.echo(text, nl=False)
            else:
                output.write_text(text, encoding="utf-8")
        case _ as unreachable:
            assert_never(unreachable)


def _append_step_summary(rendered: Rendered) -> None:
    """On GitHub Actions, add the Markdown tables to the job's summary page."""
    path = os.environ.get(STEP_SUMMARY)
    if not path:
        return
    markdown = render_text(rendered, OutputFormat.MARKDOWN)
    assert isinstance(markdown, str)
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown + "\n")
    except OSError as error:
        print(f"hetcalc: warning: cannot append to ${STEP_SUMMARY} ({path}): {error.strerror}",
              file=sys.stderr)


def check_command(
    file: Annotated[Path | None, typer.Argument(
        help="Budget file (TOML). Default: budgets.toml, or pyproject.toml with a "
             "[tool.hetcalc] table, in this directory or a parent (up to the git root).",
        show_default=False, metavar="FILE")] = None,
    fmt: Annotated[CheckFormat, typer.Option(
        "--format", "-f", help="table for people; json, markdown or junit (JUnit XML) for CI.",
        case_sensitive=False)] = CheckFormat.TABLE,
    output: OutputOption = None,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="Also fail when an entry's FLOPs or params grew beyond --tolerance "
                           "of this baseline file (written by --write-baseline).",
        metavar="FILE")] = None,
    tolerance: Annotated[str | None, typer.Option(
        "--tolerance", help="Growth allowed over --baseline: 1% or 0.01 (default 0).",
        metavar="PCT")] = None,
    write_baseline: Annotated[Path | None, typer.Option(
        "--write-baseline", help="Record every entry's current FLOPs and params in this file.",
        metavar="FILE")] = None,
    debug: DebugOption = False,
) -> None:
    """Check models against the budgets in a file: exit 0 all pass, 1 any over, 2 invalid."""
    # Everything that can be wrong with the arguments or files fails before any model is built.
    if tolerance is not None and baseline is None:
        raise InvalidArgument("--tolerance needs --baseline FILE to compare with")
    allowed = budget.parse_tolerance(tolerance) if tolerance is not None else 0.0
    if file is None:
        found = budget.find_budget_file(Path.cwd())
        budget_file = budget.load_budget_file(found, _display(found))
    else:
        budget_file = budget.load_budget_file(file)
    records = budget.read_baseline(baseline) if baseline is not None else None

    results = budget.evaluate(budget_file)
    run = budget.CheckRun(budget_file, results)
    if records is not None:
        keys = {result.entry.key for result in results}
        run = replace(run, baseline=str(baseline), tolerance=allowed,
                      regressions=budget.compare(results, records, allowed),
                      stale=[key for key in records if key not in keys])
    rendered = render_check(run)
    if write_baseline is not None:
        budget.write_baseline(write_baseline, results)
        count = f"{len(results)} entr{'y' if len(results) == 1 else 'ies'}"
        rendered.notes.append(f"Baseline written to {write_baseline} ({count}).")

    _write(rendered, run, fmt, output)
    _append_step_summary(rendered)
    if not run.passed:
        raise typer.Exit(1)
