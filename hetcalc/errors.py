"""One exception family. The CLI turns any :class:`HetcalcError` into one line on stderr and
exit code 2 (a traceback only with ``--debug``); library callers catch it like any exception."""

from __future__ import annotations


class HetcalcError(Exception):
    """Bad input or a model that cannot be analysed. ``str(error)`` is the one-line message."""


class InvalidArgument(HetcalcError, ValueError):
    """An argument is malformed or out of range (a part ``P`` of 0, an unknown variant, ...)."""


class UnknownModel(HetcalcError, LookupError):
    """A model name that no registry, file or module provides."""


class ModelLoadError(HetcalcError):
    """A model builder exists but could not be imported or called."""


class TraceError(HetcalcError):
    """A model was built but its forward pass could not be traced."""
