"""``hetcalc check [FILE]``: a CI gate. Exit 0 when every entry is within budget, 1 when any is
over (or grew beyond ``--tolerance`` of ``--baseline``), 2 when the file or an argument is invalid,
an entry could not be evaluated (its model fails to build, say), or a file cannot be written.

The budget file is validated whole, without importing any model code it names, before any model
is built; every problem it has is one ``hetcalc: error:`` line. Then its entries' model builders
run, entry by entry (see docs/ci.md: a budget file is code, like a conftest.py); an entry that
cannot be evaluated is an error row of the report and one line on stderr, and the others are
evaluated and shown all the same. Whatever ``--format`` and ``--output`` say, the verdict and
every failing check also go to stderr, so a CI log always says why the job failed.
"""

from __future__ import annotations

import contextlib
import enum
import os
import stat
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, assert_never

import typer

from hetcalc import budget
from hetcalc.budget.baseline import not_evaluated
from hetcalc.cli.errors import EXIT_ERROR
from hetcalc.cli.interrupts import caused_by_interrupt
from hetcalc.cli.options import (
    DebugOption,
    OutputOption,
    QuietOption,
    check_writable,
    emit,
    invocation,
)
from hetcalc.cli.streams import writing_stdout
from hetcalc.errors import InvalidArgument
from hetcalc.fileio import atomic_write_text, unwritable_reason
from hetcalc.render import OutputFormat, Rendered, render_text, to_string
from hetcalc.render.budget import failure_lines, render_check, render_junit, verdict
from hetcalc.render.text import one_line, user_text

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


@contextlib.contextmanager
def _every_problem() -> Iterator[None]:
    """A budget or baseline file with several problems: each is its own ``hetcalc: error:``
    line, as a linter lists every violation, and the command ends with exit 2. One problem is
    said by the CLI, like every other error."""
    try:
        yield
    except budget.BudgetError as error:
        if len(error.problems) < 2:
            raise
        if invocation.debug:
            traceback.print_exception(error)
        for problem in error.problems:
            print(f"hetcalc: error: {one_line(problem)}", file=sys.stderr)
        raise typer.Exit(EXIT_ERROR) from None


def _load(file: Path | None) -> tuple[budget.BudgetFile, Path | None]:
    """The budget file, validated whole (torch is not imported), and the path it was found at
    when it was searched for."""
    with _every_problem():
        if file is None:
            found = budget.find_budget_file(_working_directory())
            return budget.load_budget_file(found, _display(found), check=budget.preflight), found
        return budget.load_budget_file(file, check=budget.preflight), None


def _stale(results: list[budget.EntryResult], records: dict[str, budget.BaselineRecord]
           ) -> list[str]:
    """The baseline's keys that no entry has any more. An entry that could not be evaluated
    before its input shape was known may own any record of its model and variant: those are not
    called stale."""
    keys = {result.entry.key for result in results}
    unknown = tuple(f"{r.entry.model} {r.entry.variant.spec} " for r in results
                    if r.failure is not None and r.entry.input_shape is None
                    and not r.entry.name)
    return [key for key in records if key not in keys and not key.startswith(unknown)]


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
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Check models against the budgets in a file: exit 0 all pass, 1 any over, 2 invalid."""
    # Everything that can be wrong with the arguments or files fails before any model is built,
    # and before any code the budget file names is imported.
    if tolerance is not None and baseline is None:
        raise InvalidArgument("--tolerance needs --baseline FILE to compare with")
    allowed = budget.parse_tolerance(tolerance) if tolerance is not None else 0.0
    _check_step_summary()
    budget_file, found = _load(file)
    with _every_problem():
        records = budget.read_baseline(baseline) if baseline is not None else None
    if found is not None and not quiet:  # found by searching: say whose model code will run
        print(f"hetcalc check: using {user_text(found)}", file=sys.stderr)

    # Every entry is evaluated: one that cannot be is an error row, and its line goes to stderr
    # now, so that the log names it even if writing the report fails.
    results = budget.evaluate(budget_file, is_interrupt=caused_by_interrupt)
    run = budget.CheckRun(budget_file, results)
    if records is not None:
        run = replace(run, baseline=str(baseline), tolerance=allowed,
                      regressions=budget.find_regressions(results, records, allowed),
                      stale=_stale(results, records))
    for result, line in zip(run.failed_entries, failure_lines(run), strict=True):
        if invocation.debug:
            assert result.failure is not None
            traceback.print_exception(result.failure.error)
        print(line, file=sys.stderr)
    rendered = render_check(run)
    refused = None
    if write_baseline is not None:
        failed = not_evaluated(results)
        if failed is None:
            budget.write_baseline(write_baseline, results)
            count = f"{len(results)} entr{'y' if len(results) == 1 else 'ies'}"
            rendered.notes.append(f"Baseline written to {write_baseline} ({count}).")
        else:  # a baseline without an entry's record would let that entry grow unchecked
            refused = (f"--write-baseline {write_baseline}: not written, since {failed} could "
                       "not be evaluated; a baseline records every entry")
            rendered.notes.append(f"Baseline not written to {write_baseline}: {failed} could "
                                  "not be evaluated.")

    _write(rendered, run, fmt, output)
    _append_step_summary(rendered)
    # Last, once every write has succeeded: a write error is the one line of exit 2 instead.
    for line in [] if quiet else verdict(run):  # --quiet: the exit code says it
        print(line, file=sys.stderr)
    if refused is not None:
        print(f"hetcalc: error: {one_line(refused)}", file=sys.stderr)
    if run.failed_entries:
        raise typer.Exit(EXIT_ERROR)  # an entry not evaluated: never a pass, nor a plain fail
    if not run.passed:
        raise typer.Exit(1)
