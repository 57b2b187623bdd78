"""The ``hetcalc`` command line: parse, call the library, render, map errors to exit codes.

:func:`main` is the one place where failures become one line on stderr and an exit code (the
rules are in :mod:`hetcalc.cli.errors`). Importing this package is cheap: the Typer application
(:mod:`hetcalc.cli.application`) is loaded inside :func:`main`, so that even a Ctrl-C while it
loads ends with one line and exit code 130.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import warnings
from typing import Any

from hetcalc.cli import streams
from hetcalc.cli.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
)
from hetcalc.cli.interrupts import (
    caused_by_interrupt,
    interrupt_pending,
    terminated,
    watching_ctrl_c,
)

__all__ = ["app", "interrupt_pending", "main", "run"]


def __getattr__(name: str) -> Any:
    if name == "app":  # ``from hetcalc.cli import app``: the Typer application
        from hetcalc.cli.application import app

        return app
    raise AttributeError(f"module 'hetcalc.cli' has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    streams.guard_streams()  # a write to stdout that fails is one line, none is lost silently
    try:
        with watching_ctrl_c():
            code = _run_command(args)
            interrupt_pending()  # a Ctrl-C that a finalizer swallowed still ends the run
            return streams.flush_stdout(code)  # the last of stdout written, or exit 2
    except KeyboardInterrupt:
        if terminated():
            streams.say("hetcalc: terminated")
            return EXIT_TERMINATED
        streams.say("hetcalc: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # ``hetcalc ... | head``: the reader has gone, nothing to say
        streams.discard(sys.stdout)
        return EXIT_BROKEN_PIPE
    except OSError:  # stderr cannot be written (closed, full): nothing more can be said
        streams.discard(sys.stdout)
        streams.discard(sys.stderr)
        return EXIT_ERROR


DEBUG_ENV = "HETCALC_DEBUG"


def debug_from_environment() -> bool:
    """``HETCALC_DEBUG=1`` (any value but empty, ``0``, ``false``, ``no``, ``off``) is
    ``--debug`` for every run: the traceback of an error, as in CI logs one cannot rerun."""
    value = os.environ.get(DEBUG_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def _run_command(args: list[str]) -> int:
    import typer
    import typer.main

    from hetcalc.cli.application import app
    from hetcalc.cli.options import invocation
    from hetcalc.usercode import stop_when_ignored

    invocation.debug = debug_from_environment()
    invocation.command = None
    stop_when_ignored(IGNORED_TIMEOUT_GRACE, _end_ignored)
    command = typer.main.get_command(app)
    try:
        command._main_shell_completion({}, "hetcalc")  # exits when the shell asks to complete
        with command.make_context("hetcalc", args) as ctx:
            try:
                with warnings.catch_warnings():  # what --quiet sets is undone after the run
                    result = command.invoke(ctx)
            except (Exception, KeyboardInterrupt):
                raise
            except BaseException as stray:  # noqa: BLE001 - see _stray
                raise _stray(stray) from stray
    except Exception as error:
        if caused_by_interrupt(error):  # a Ctrl-C that a library wrapped in its own error
            raise KeyboardInterrupt from error
        return _failure(error, invocation)
    finally:
        stop_when_ignored(None)  # the process is the CLI's only while it runs a command
    return result if isinstance(result, int) else 0


IGNORED_TIMEOUT_GRACE = 10.0
"""Seconds a model's code may go on past ``--timeout`` (``timeout`` in a budget entry) while
swallowing every alarm, before the process ends with the timeout's line and exit 2."""


def _end_ignored(message: str) -> None:
    """A model's code that ignores the end of its time limit: its line, and the process ends
    (nothing is half-written: the report is written after the model's work)."""
    streams.say(f"hetcalc: error: {message}")
    os._exit(EXIT_ERROR)


def _stray(error: BaseException) -> Exception:
    """A ``SystemExit`` (or another exception that is not an ``Exception``) out of a command:
    no hetcalc command raises one (Click's and Typer's exits are ``Exception``s under
    ``make_context``/``invoke``; only their shell-completion options exit, while parsing), so it
    came from a model's code that ran unguarded. Never its exit code: one line and exit 2."""
    from hetcalc.errors import HetcalcError
    from hetcalc.usercode import ModelTimeout, TimeLimitExpired, describe

    if isinstance(error, TimeLimitExpired):
        return ModelTimeout("the model did not finish in its time limit")
    return HetcalcError(f"code a model runs ended the command: {describe(error)}")


def _failure(error: Exception, invocation) -> int:
    """The exit code for ``error`` (the rules of :mod:`hetcalc.cli.errors`), its line printed:
    one line whatever the message holds (a user's text, a builder's exception), its control
    characters written visibly (:func:`hetcalc.render.text.one_line`)."""
    import typer

    from hetcalc.cli import errors
    from hetcalc.errors import HetcalcError
    from hetcalc.render.text import one_line

    if isinstance(error, HetcalcError):
        if invocation.debug:
            traceback.print_exception(error)
        print(f"hetcalc: error: {one_line(errors.in_flag_terms(error, invocation.command))}",
              file=sys.stderr)
        return errors.EXIT_ERROR
    if isinstance(error, typer.Exit):  # --help, --version, or a command's own exit code
        return int(error.exit_code)
    if isinstance(error, typer.Abort):
        print("hetcalc: aborted", file=sys.stderr)
        return 1
    if errors.is_usage_error(error):
        print(f"hetcalc: error: {one_line(errors.usage_line(error, invocation.command))}",
              file=sys.stderr)
        return int(getattr(error, "exit_code", errors.EXIT_ERROR))
    broken = errors.broken_install(error)
    if broken is not None:  # a library that does not load is the installation's fault
        if invocation.debug:
            traceback.print_exception(error)
        print(f"hetcalc: error: {one_line(broken)}", file=sys.stderr)
        return errors.EXIT_ERROR
    if invocation.debug:
        raise error
    print(f"hetcalc: internal error: {type(error).__name__}: {one_line(error)} "
          "(run again with --debug for the traceback)", file=sys.stderr)
    return errors.EXIT_INTERNAL


def run() -> None:
    """Console-script entry point.

    After a Ctrl-C the process ends with ``os._exit(130)`` (``os._exit(143)`` after SIGTERM): an
    interrupt that passed through code a library ran with ``exec`` leaves CPython set to end the
    process by SIGINT (-2) at exit, even though hetcalc handled it."""
    code = main()
    if code in (EXIT_INTERRUPTED, EXIT_TERMINATED):
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)
