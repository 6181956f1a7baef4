"""`flowc runs`: the run history `flowc dev` and `flowc run` keep under `--state`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from flowc.cli.app import app
from flowc.cli.common import OutputFormat


@app.command()
def runs(
    state: Path = typer.Option(Path(".flowc"), "--state", help="Run history directory."),
    task: str | None = typer.Option(None, "--task", help="Only this task's runs."),
    app_name: str | None = typer.Option(None, "--app", help="Only this app's runs."),
    limit: int | None = typer.Option(None, "--limit", help="Only the most recent N runs."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
) -> None:
    """List recorded runs, oldest first: status, attempts, exit code, times, code version."""
    from flowc.cli.dev import option_error
    from flowc.diagnostics import render_text
    from flowc.emulator.history import HistoryError, list_runs

    if limit is not None and limit < 1:
        raise option_error(f"--limit must be a positive number of runs, not {limit}",
                           "e.g. --limit 20, or leave it out for every run")
    try:
        rows = list_runs(state, task=task, app=app_name, limit=limit)
    except HistoryError as exc:
        typer.echo(render_text([exc.diagnostic]), err=True, nl=False)
        raise typer.Exit(1) from None
    if format == OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo(f"no runs recorded under {state}/", err=True)
        return
    header = ("RUN", "APP", "TASK", "STATUS", "ATTEMPTS", "EXIT", "SCHEDULED", "FINISHED",
              "VERSION")
    table = [header] + [
        (
            r["run_id"], r["app"], r["task"], r["status"], str(r["attempts"]),
            "-" if r["exit_code"] is None else str(r["exit_code"]),
            r["scheduled_at"] or r["trigger"], r["finished_at"] or "-",
            "-" if r.get("version") is None else str(r["version"]),
        )  # fmt: skip
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
