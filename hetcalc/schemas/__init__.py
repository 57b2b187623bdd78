"""The JSON Schema (draft 2020-12) of each command's ``--format json`` output, as package data:
``hetcalc/schemas/COMMAND.json``, printed by ``hetcalc schema COMMAND``.

Every command's JSON object begins with ``"schema_version": SCHEMA_VERSION``. Within a version,
keys may be added (every schema allows properties it does not name) and none is renamed,
removed or given another meaning or type; any of those bumps the version. ``models`` prints a
list, which has no place for a key: its version is its schema's ``$id``
(``urn:hetcalc:schema:models:1``).

Torch-free, and reads only the files beside it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from hetcalc.errors import InvalidArgument

__all__ = ["SCHEMA_COMMANDS", "SCHEMA_VERSION", "schema", "schema_text"]

SCHEMA_VERSION = 1
"""The version of every command's JSON; see the module's docstring for what bumps it."""

SCHEMA_COMMANDS = ("analyze", "compare", "plan", "check", "models", "curve", "designs", "device")
"""The commands whose ``--format json`` has a schema: every command that prints JSON."""


def _checked(command: str) -> str:
    name = command.strip().lower()
    if name not in SCHEMA_COMMANDS:
        raise InvalidArgument(f"no JSON schema for {command!r}; the commands with JSON output "
                              f"are {', '.join(SCHEMA_COMMANDS)}")
    return name


def schema_text(command: str) -> str:
    """The schema of ``command``'s JSON as the file holds it (what ``hetcalc schema`` prints).
    Raises :class:`InvalidArgument` naming the valid commands for any other name."""
    return resources.files(__name__).joinpath(f"{_checked(command)}.json").read_text("utf-8")


def schema(command: str) -> dict[str, Any]:
    """The schema of ``command``'s JSON, parsed (a fresh dict each call)."""
    return json.loads(schema_text(command))
