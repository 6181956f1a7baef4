"""Paths given on the command line (`--out`, `--state`, `--events`), checked before use.

    exit_on_problems(writable_dir(out, "--out"), writable_dir(state, "--state", parents=False))

Each check returns a diagnostic (E920) or None, so a path of the wrong shape (a file where
a directory is expected, a missing parent) is reported with the flag and the reason
before the command starts. Permissions and full disks show when writing: the commands
report E508 for --state/--out, and the command group's safety net (`flowc.cli.app`)
E921 with the path for anything else.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from flowc.diagnostics import Diagnostic, render_text

CODE = "E920"


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _problem(flag: str, path: Path, why: str, help: str) -> Diagnostic:
    return Diagnostic(CODE, f"`{flag} {path}`: {why}", None, help)


def writable_dir(path: Path | str, flag: str, *, parents: bool = True) -> Diagnostic | None:
    """A directory flowc will create (with its parents when `parents`) and write into."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            return _problem(flag, path, "it is a file, not a directory",
                            f"give {flag} a directory path, or move the file away")
        return None
    if not parents and not path.parent.is_dir():
        return _missing_parent(flag, path)
    return _creatable(path, flag)


def writable_file(path: Path | str, flag: str) -> Diagnostic | None:
    """A file flowc appends to; its directory must exist already."""
    path = Path(path)
    if path.is_dir():
        return _problem(flag, path, "it is a directory, not a file",
                        f"give {flag} a file path such as `events.jsonl`")
    if not path.parent.is_dir():
        return _missing_parent(flag, path)
    return None


def _missing_parent(flag: str, path: Path) -> Diagnostic:
    if os.path.lexists(path.parent):
        return _problem(flag, path, f"`{path.parent}` is a file, not a directory",
                        f"give {flag} a path whose parents are directories")
    return _problem(flag, path, f"its parent directory `{path.parent}` does not exist",
                    f"create `{path.parent}` first, or give {flag} another path")


def _creatable(path: Path, flag: str) -> Diagnostic | None:
    base = _first_existing(path.parent)
    if not base.is_dir():
        return _problem(flag, path, f"`{base}` is a file, not a directory",
                        f"give {flag} a path whose parents are directories")
    return None


def exit_on_problems(*problems: Diagnostic | None) -> None:
    """Print the problems found (if any) and exit 1."""
    found = [p for p in problems if p is not None]
    if found:
        sys.stderr.write(render_text(found))
        raise typer.Exit(1)


def check_run_paths(state: Path, events: Path | None) -> None:
    """`flowc dev` / `flowc run`: the history directory and the events file, or exit 1."""
    exit_on_problems(writable_dir(state, "--state", parents=False),
                     writable_file(events, "--events") if events is not None else None)
