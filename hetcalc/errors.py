"""One exception family. The CLI turns any :class:`HetcalcError` into one line on stderr and
exit code 2 (a traceback only with ``--debug``); library callers catch it like any exception.

Library errors speak in library terms: an :class:`InvalidArgument` about a function argument
names that argument (``min_run_time must be positive``) and carries its name in
:attr:`InvalidArgument.argument`; the CLI, which knows which flag fed which argument, rewrites
the name into the flag (``--time-budget must be positive``).
"""

from __future__ import annotations


class HetcalcError(Exception):
    """Bad input or a model that cannot be analysed. ``str(error)`` is the one-line message."""


class InvalidArgument(HetcalcError, ValueError):
    """An argument is malformed or out of range (a part ``P`` of 0, an unknown variant, ...).

    ``argument`` is the library parameter the message is about, when there is one; the message
    then begins with that name.
    """

    def __init__(self, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.argument = argument


class UnknownModel(HetcalcError, LookupError):
    """A model name that no registry, file or module provides."""


class ModelLoadError(HetcalcError):
    """A model builder exists but could not be imported or called."""


class TraceError(HetcalcError):
    """A model was built but its forward pass could not be traced."""


def interrupt_in_chain(error: BaseException) -> bool:
    """Whether a ``KeyboardInterrupt`` is ``error`` or in its chain of causes and contexts (a
    library that wrapped a Ctrl-C in its own error)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def require_positive(**values: object) -> None:
    """Raise :class:`InvalidArgument` naming the first value that is not a positive integer
    (``bool`` is not an integer here)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidArgument(f"{name} must be a positive integer, got {value!r}",
                                  argument=name)
