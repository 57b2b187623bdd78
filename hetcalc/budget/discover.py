"""Finding the budget file ``hetcalc check`` uses when none is named: where git would find the
repository, and only files that no other user could have put there (docs/ci.md).

A budget file runs the model code it names, like a ``conftest.py``; so the search stops where
git would (:func:`is_repository_root`), never widens past the starting directory outside a
repository, and refuses a file found (:func:`unsafe_reason`) that another user owns or could
have replaced. A file named on the command line is the user's own choice and is not checked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hetcalc.budget.schema import BUDGETS_TOML, PYPROJECT_TOML, BudgetError, read_toml
from hetcalc.readfile import FileProblem, read_text

__all__ = ["find_budget_file", "is_repository_root", "unsafe_reason"]


def find_budget_file(start: Path) -> Path:
    """The budget file ``hetcalc check`` uses when none is given.

    In ``start`` and then its parents, the first directory with a ``budgets.toml``, or with a
    ``pyproject.toml`` that has a ``[tool.hetcalc]`` table, wins. The search stops at the root
    of the git repository (:func:`is_repository_root`: where git itself would find one);
    outside a git repository only ``start`` itself is searched, since a file in a parent there
    (``/tmp``, a shared home) is no part of the project and its model builders would be run.
    A file found is refused (:func:`unsafe_reason`) when another user could have put it there.
    """
    start = start.resolve()
    in_repository = any(is_repository_root(d) for d in (start, *start.parents))
    for directory in (start, *start.parents) if in_repository else (start,):
        candidate = directory / BUDGETS_TOML
        if candidate.is_file():
            return _safe(candidate)
        pyproject = directory / PYPROJECT_TOML
        if pyproject.is_file():
            tool = read_toml(pyproject, str(pyproject)).get("tool")
            if isinstance(tool, dict) and "hetcalc" in tool:
                return _safe(pyproject)
        if is_repository_root(directory):
            break
    where = (f"in {start} or its parents" if in_repository else
             f"in {start} (not in a git repository, so its parents were not searched)")
    raise BudgetError([
        f"no budget file: found neither {BUDGETS_TOML} nor a {PYPROJECT_TOML} with a "
        f"[tool.hetcalc] table {where}; give the file: hetcalc check FILE"
    ])


def is_repository_root(directory: Path) -> bool:
    """``directory`` holds a git repository as git would take it: a ``.git`` directory with a
    ``HEAD`` file, or a ``.git`` file reading ``gitdir: PATH`` (a worktree, a submodule) where
    PATH is such a directory. An empty ``.git`` directory or a ``.git`` file pointing nowhere
    is not one, so it neither widens the search to the parents nor ends it."""
    dot_git = directory / ".git"
    try:
        if dot_git.is_dir():
            return (dot_git / "HEAD").is_file()
        if not dot_git.is_file():
            return False
        first = read_text(dot_git, "git file", 4096).partition("\n")[0].strip()
    except (OSError, FileProblem):
        return False
    if not first.startswith("gitdir:") or not first.removeprefix("gitdir:").strip():
        return False
    target = Path(first.removeprefix("gitdir:").strip())
    target = target if target.is_absolute() else directory / target
    try:
        return (target / "HEAD").is_file()
    except OSError:
        return False


def unsafe_reason(path: Path) -> str | None:
    """Why a budget file found by searching may be another user's, or ``None``: it is owned by
    another user, anyone may write it, or it is in a directory anyone may write without the
    sticky bit (where anyone may replace it). Such a file is not run unless named."""
    if not hasattr(os, "geteuid"):  # no owners to compare (Windows)
        return None
    try:
        info, folder = path.stat(), path.parent.stat()
    except OSError as error:
        return f"cannot check who owns it ({error.strerror or error})"
    if info.st_uid != os.geteuid():
        return f"it is owned by another user (uid {info.st_uid})"
    if info.st_mode & stat.S_IWOTH:
        return "anyone may write it (mode o+w)"
    if folder.st_mode & stat.S_IWOTH and not folder.st_mode & stat.S_ISVTX:
        return (f"its directory {path.parent} is writable by anyone, without the sticky bit, "
                "so anyone may replace it")
    return None


def _safe(found: Path) -> Path:
    reason = unsafe_reason(found)
    if reason is not None:
        raise BudgetError([f"{found}: not used, since {reason}; a budget file runs the model "
                           f"code it names; if it is yours to run, name it: hetcalc check "
                           f"{found}"])
    return found
