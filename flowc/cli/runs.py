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
    from flowc.emulator.history import list_runs

    rows = list_runs(state, task=task, app=app_name, limit=limit)
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
