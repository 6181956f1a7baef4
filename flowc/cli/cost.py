"""`flowc cost FILE`: what a month of the spec costs on each target, before deploying it."""

from __future__ import annotations

import sys
from enum import Enum

import typer

from flowc.cli.app import app
from flowc.cli.common import OutputFormat, print_diagnostics
from flowc.compiler.pipeline import load
from flowc.diagnostics import has_errors


class CostFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def cost(
    file: str = typer.Argument(..., help="The .flow file.", metavar="FILE"),
    env: str | None = typer.Option(None, "--env", help="Price this environment's settings."),
    month: str | None = typer.Option(None, "--month", metavar="YYYY-MM",
                                     help="Calendar month to price (default: next month)."),
    duration: list[str] = typer.Option([], "--duration", metavar="TASK=DURATION",
                                       help="Assumed run length of a task, e.g. "
                                       "daily_report=30s (repeatable)."),
    format: CostFormat = typer.Option(CostFormat.table, "--format",
                                      help="table (for people), json or csv."),
    no_free_tier: bool = typer.Option(False, "--no-free-tier",
                                      help="Ignore the providers' monthly free tiers."),
    prices: list[str] = typer.Option([], "--prices", metavar="FILE",
                                     help="A TOML price file overriding flowc's "
                                     "(negotiated rates; repeatable)."),
    state: str = typer.Option(".flowc", "--state", metavar="DIR",
                              help="Where `flowc dev`/`flowc run` keep run history "
                              "(measured durations)."),
) -> None:
    """Estimate a month of runs, per task and target: runs, run length, and what each
    provider bills (requests, compute, scheduler, queues, secrets, logs)."""
    from flowc.cost import cost_report
    from flowc.cost.report import render_csv, render_json, render_table

    diag_format = OutputFormat.json if format == CostFormat.json else OutputFormat.text
    result = load(file, env)
    if not result.ok:
        print_diagnostics(result.diagnostics, result.sources, diag_format)
        raise typer.Exit(1)
    assert result.app is not None
    costed = cost_report(result.app, month=month, durations=duration,
                         free_tier=not no_free_tier, price_files=prices, state_dir=state,
                         sources=result.sources)
    diagnostics = result.diagnostics + costed.diagnostics
    if costed.report is None or has_errors(diagnostics):
        print_diagnostics(diagnostics, costed.sources, diag_format)
        raise typer.Exit(1)
    if diagnostics:  # warnings: for people, on stderr, whatever the format
        print_diagnostics(diagnostics, costed.sources, OutputFormat.text)
    if format == CostFormat.json:
        sys.stdout.write(render_json(costed.report))
    elif format == CostFormat.csv:
        sys.stdout.write(render_csv(costed.report))
    else:
        sys.stdout.write(render_table(costed.report))
