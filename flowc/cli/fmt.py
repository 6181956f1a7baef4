"""`flowc fmt FILE...`: rewrite specs in canonical layout; `--check` only reports (for CI)."""

from __future__ import annotations

from pathlib import Path

import typer

from flowc.cli.app import app
from flowc.cli.common import print_diagnostics
from flowc.diagnostics import SourceCache
from flowc.grammar.format import format_tree
from flowc.grammar.parser import parse_text, read_source


@app.command()
def fmt(
    files: list[str] = typer.Argument(..., help="One or more .flow files.", metavar="FILE..."),
    check: bool = typer.Option(False, "--check",
                               help="Change nothing; exit 1 if a file is not formatted."),
) -> None:
    """Format .flow files canonically (idempotent; comments are kept)."""
    unformatted = 0
    failed = False
    for file in files:
        text, diagnostics = read_source(file)
        tree = None
        if text is not None:
            tree, diagnostics = parse_text(text, file)
        if tree is None or any(d.is_error for d in diagnostics):
            print_diagnostics(diagnostics, SourceCache({file: text} if text else {}))
            failed = True
            continue
        formatted = format_tree(tree, text)
        if formatted == text:
            continue
        unformatted += 1
        if check:
            typer.echo(f"would reformat {file}", err=True)
        else:
            Path(file).write_text(formatted, encoding="utf-8")
            typer.echo(f"reformatted {file}", err=True)
    if failed or (check and unformatted):
        raise typer.Exit(1)
