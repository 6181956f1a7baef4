"""`flowc check FILE...`: parse and check specs, print every diagnostic, exit 1 on errors."""

from __future__ import annotations

import typer

from flowc.cli.app import app
from flowc.cli.common import OutputFormat, exit_code, print_diagnostics
from flowc.compiler.pipeline import load
from flowc.diagnostics import SourceCache, has_errors
from flowc.targets.rules import target_rules


@app.command()
def check(
    files: list[str] = typer.Argument(..., help="One or more .flow files.", metavar="FILE..."),
    env: str | None = typer.Option(None, "--env", help="Check with this environment applied."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format",
                                        help="text (for people) or json (for tools)."),
) -> None:
    """Check .flow files: syntax, settings, secrets, schedules and target limits."""
    diagnostics = []
    sources = SourceCache()
    for file in files:
        result = load(file, env, sources)
        found = list(result.diagnostics)
        if result.ok:  # the rules `flowc compile` applies before building (all targets)
            for more in target_rules(result.app).values():
                found.extend(more)
        diagnostics.extend(found)
        if result.ok and not has_errors(found) and format == OutputFormat.text:
            services = len(result.app.services)
            typer.echo(f"{file}: ok, {len(result.app.tasks)} task(s)"
                       + (f", {services} service(s)" if services else ""), err=True)
    print_diagnostics(diagnostics, sources, format)
    raise typer.Exit(exit_code(diagnostics))
