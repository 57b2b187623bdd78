"""Helpers shared by the ``hetcalc check`` tests."""

from __future__ import annotations

from pathlib import Path

from hetcalc.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    """``hetcalc check ARGS...`` in-process: (exit code, stdout, stderr)."""
    code = main(["check", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(directory: Path, text: str, name: str = "budgets.toml") -> Path:
    """A budget file ``name`` holding ``text`` in ``directory``."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
