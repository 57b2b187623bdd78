"""``hetcalc check [FILE]``: a CI gate. Exit 0 when every entry is within budget, 1 when any is
over (or grew beyond ``--tolerance`` of ``--baseline``), 2 when the file or an argument is invalid,
a model fails to build, or a file cannot be written.

The budget file is validated whole, without importing any model code it names, before any model
is built; then its entries' model builders run, entry by entry (see docs/ci.md: a budget file is
code, like a conftest.py). Whatever ``--format`` and ``--output`` say, the verdict and every
failing check also go to stderr, so a CI log always says why the job failed.
"""

from __future__ import annotations

import enum
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, assert_never

import typer

from hetcalc import budget
from hetcalc.cli.options import DebugOption, OutputOption, check_writable, emit
from hetcalc.cli.streams import writing_stdout
from hetcalc.errors import InvalidArgument
from hetcalc.fileio import atomic_write_text, unwritable_reason
from hetcalc.render import OutputFormat, Rendered, render_text, to_string
from hetcalc.render.budget import render_check, render_junit, verdict
from hetcalc.render.text import user_text

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
    except (ValueError, OSError):
        return str(path)


def _working_directory() -> Path:
    """Where the budget file is looked for; one that was deleted is one line, exit 2."""
    try:
        return Path.cwd()
    except OSError as error:
        raise InvalidArgument(f"the current directory cannot be read ({error.strerror}; was it "
                              "deleted?): give the budget file's path") from None


def _to_stdout(write: Callable[[], None]) -> None:
    with writing_stdout():  # a failure is one line and exit 2; a reader gone, exit 141
        write()


def _check_baseline_output(value: Path | None) -> Path | None:
    """``--write-baseline FILE``: fail now, before any model code is imported, if FILE cannot be
    written."""
    if value is not None:
        check_writable(value, "--write-baseline")
    return value


def _check_step_summary() -> None:
    """``$GITHUB_STEP_SUMMARY``, when set, can be appended to (an existing regular file or
    character device open for writing, or a new file in a writable directory): checked before
    any model code is imported, like every output path."""
    path = os.environ.get(STEP_SUMMARY)
    if not path:
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        reason = unwritable_reason(path)
    except OSError as error:
        reason = error.strerror or str(error)
    else:
        if stat.S_ISDIR(mode):
            reason = "Is a directory"
        elif not (stat.S_ISREG(mode) or stat.S_ISCHR(mode)):
            reason = "not a regular file"
        else:
            reason = None if os.access(path, os.W_OK) else "Permission denied"
    if reason is not None:
        raise InvalidArgument(f"${STEP_SUMMARY} {path}: cannot append the summary to it "
                              f"({reason})")


def _write(rendered: Rendered, run: budget.CheckRun, fmt: CheckFormat,
           output: Path | None) -> None:
    """The report to standard output, or atomically to ``output`` (the previous file stays
    whole when the write fails); a write error is :class:`InvalidArgument` (exit 2)."""
    match fmt:
        case CheckFormat.TABLE | CheckFormat.JSON | CheckFormat.MARKDOWN:
            if output is None:
                _to_stdout(lambda: emit(rendered, OutputFormat(fmt.value), None))
                return
            text = to_string(render_text(rendered, OutputFormat(fmt.value)))
        case CheckFormat.JUNIT:
            text = render_junit(run)
            if output is None:
                _to_stdout(lambda: typer.echo(text, nl=False))
                return
        case _ as unreachable:
            assert_never(unreachable)
    atomic_write_text(output, text, what="--output")


def _append_step_summary(rendered: Rendered) -> None:
    """On GitHub Actions, add the Markdown tables to the job's summary page. Appending cannot be
    atomic; a failure to append is exit 2 like every other write error."""
    path = os.environ.get(STEP_SUMMARY)
    if not path:
        return
    markdown = render_text(rendered, OutputFormat.MARKDOWN)
    assert isinstance(markdown, str)
    try:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown + "\n")
    except OSError as error:
        raise InvalidArgument(f"${STEP_SUMMARY} {path}: cannot append the summary to it "
                              f"({error.strerror or error})") from error


def check_command(
    file: Annotated[Path | None, typer.Argument(
        help="Budget file (TOML); it runs the model builders it names. Default: budgets.toml, "
             "or pyproject.toml with a [tool.hetcalc] table, in this directory or a parent up "
             "to the git root (outside a git repository, this directory only).",
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
        callback=_check_baseline_output, metavar="FILE")] = None,
    debug: DebugOption = False,
) -> None:
    """Check models against the budgets in a file: exit 0 all pass, 1 any over, 2 invalid."""
    # Everything that can be wrong with the arguments or files fails before any model is built,
    # and before any code the budget file names is imported.
    if tolerance is not None and baseline is None:
        raise InvalidArgument("--tolerance needs --baseline FILE to compare with")
    allowed = budget.parse_tolerance(tolerance) if tolerance is not None else 0.0
    _check_step_summary()
    if file is None:
        found = budget.find_budget_file(_working_directory())
        budget_file = budget.load_budget_file(found, _display(found), check=budget.preflight)
    else:
        budget_file = budget.load_budget_file(file, check=budget.preflight)
    records = budget.read_baseline(baseline) if baseline is not None else None
    if file is None:  # found by searching: say which file's model code is about to run
        print(f"hetcalc check: using {user_text(found)}", file=sys.stderr)

    results = budget.evaluate(budget_file)
    run = budget.CheckRun(budget_file, results)
    if records is not None:
        keys = {result.entry.key for result in results}
        run = replace(run, baseline=str(baseline), tolerance=allowed,
                      regressions=budget.find_regressions(results, records, allowed),
                      stale=[key for key in records if key not in keys])
    rendered = render_check(run)
    if write_baseline is not None:
        budget.write_baseline(write_baseline, results)
        count = f"{len(results)} entr{'y' if len(results) == 1 else 'ies'}"
        rendered.notes.append(f"Baseline written to {write_baseline} ({count}).")

    _write(rendered, run, fmt, output)
    _append_step_summary(rendered)
    # Last, once every write has succeeded: a write error is the one line of exit 2 instead.
    for line in verdict(run):
        print(line, file=sys.stderr)
    if not run.passed:
        raise typer.Exit(1)
