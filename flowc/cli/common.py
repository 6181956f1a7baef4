"""What every command does with diagnostics: print them (text or JSON) and pick the exit code."""

from __future__ import annotations

import sys
from enum import Enum

import typer

from flowc.compiler.ir import App
from flowc.compiler.pipeline import LoadResult, load
from flowc.diagnostics import (
    WARNINGS,
    Diagnostic,
    SourceCache,
    has_errors,
    render_json,
    render_text,
)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


def print_diagnostics(diagnostics: list[Diagnostic], sources: SourceCache | None = None,
                      fmt: OutputFormat = OutputFormat.text) -> None:
    """Text goes to stderr (it is for people); JSON to stdout (it is for programs)."""
    diagnostics = WARNINGS.visible(diagnostics, sources)  # each warning once, unless silenced
    if fmt == OutputFormat.json:
        sys.stdout.write(render_json(diagnostics) + "\n")
    elif diagnostics:  # a blank line between this command's successive batches
        sys.stderr.write(("\n" if WARNINGS.printed else "") + render_text(diagnostics, sources))
        WARNINGS.printed = True


def load_or_exit(file: str, env: str | None = None,
                 fmt: OutputFormat = OutputFormat.text, quiet_ok: bool = False,
                 target: str | None = None) -> App:
    """Load a spec for a command; on errors print them and exit 1. Warnings are printed too
    (with `target`, only those about that target or no target: `flowc up` applies aws)."""
    result: LoadResult = load(file, env)
    if not result.ok:
        print_diagnostics(result.diagnostics, result.sources, fmt)
        raise typer.Exit(1)
    shown = [d for d in result.diagnostics
             if target is None or d.is_error or d.target in (None, target)]
    if shown and not quiet_ok:
        print_diagnostics(shown, result.sources, OutputFormat.text)
    assert result.app is not None
    return result.app


def exit_code(diagnostics: list[Diagnostic]) -> int:
    return 1 if has_errors(diagnostics) else 0


def storage_diagnostic(exc: OSError) -> Diagnostic:
    """E508 for a --state or --out directory that cannot be written (read-only, full)."""
    where = f" {exc.filename}" if exc.filename else ""
    return Diagnostic(
        "E508", f"cannot write{where}: {exc.strerror or exc}",
        help="free some space or pass writable directories with --state (default .flowc/) "
        "and --out",
    )  # fmt: skip
