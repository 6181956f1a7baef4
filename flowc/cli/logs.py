"""`flowc logs FILE [TASK] [--run ID] [--since 1h] [--follow]`: output of local runs.

`flowc dev` and `flowc run` keep each run's stdout and stderr under `--state`
(flowc/emulator/runlogs.py: capped and rotated per run, the last 100 runs per task).
Lines print as `WALL TASK RUN#ATTEMPT STREAM | LINE`, run by run, oldest first.
`--follow` keeps printing new lines (of new runs too) until Ctrl-C. `--deployed` reads
the tasks' CloudWatch log groups in the local cloud of `flowc up` instead.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from flowc.cli.app import app
from flowc.cli.common import load_or_exit

FOLLOW_POLL_S = 0.3


def task_or_exit(spec: Any, file: Path, task: str | None) -> None:
    """E501 with a suggestion when `task` is not a task of the spec."""
    import difflib

    from flowc.diagnostics import Diagnostic, render_text

    names = [t.name for t in spec.tasks]
    if task is None or task in names:
        return
    if task in [s.name for s in getattr(spec, "services", ())]:
        sys.stderr.write(render_text([Diagnostic(
            "E501", f"`{task}` is a service in {file}, not a task",
            help=f"services run with `flowc dev {file} --only {task}`")]))
        raise typer.Exit(1)
    close = difflib.get_close_matches(task, names, n=1)
    hint = f"did you mean `{close[0]}`?" if close else "tasks: " + ", ".join(names)
    sys.stderr.write(render_text([Diagnostic("E501", f"no task `{task}` in {file}", help=hint)]))
    raise typer.Exit(1)


def since_or_exit(since: str | None) -> datetime | None:
    from flowc.cli.dev import option_error
    from flowc.emulator.clock import parse_duration

    if since is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(since))
    except ValueError:
        raise option_error(f"--since {since!r} is not a duration",
                           "write it like 90s, 10m, 2h or 1d") from None


def format_line(record: dict[str, Any]) -> str:
    return (f"{record['wall'][:23]} {record['task']} {record['run_id']}#{record['attempt']} "
            f"{record['stream']} | {record['line']}")


@app.command()
def logs(
    file: Path = typer.Argument(..., help="The .flow file."),
    task: str | None = typer.Argument(None, help="Only this task's runs."),
    run: str | None = typer.Option(None, "--run", help="Only this run (an id from `flowc runs`)."),
    since: str | None = typer.Option(None, "--since", help="Only lines of the last 1h, 30m, ..."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    env: str | None = typer.Option(None, "--env", help="The environment the runs used."),
    deployed: bool = typer.Option(False, "--deployed", help="The task's log group in the "
                                  "local cloud `flowc up` deployed to, not local runs."),
    state: Path = typer.Option(Path(".flowc"), "--state", help="Run history directory."),
) -> None:
    """Show the stdout and stderr of local runs (`flowc dev`, `flowc run`)."""
    from flowc.emulator import runlogs

    spec = load_or_exit(str(file), env, quiet_ok=True)
    task_or_exit(spec, file, task)
    moment = since_or_exit(since)
    if deployed:
        from flowc.deploy.logs import show_deployed

        raise typer.Exit(show_deployed(spec, state, task, moment, follow))
    shown = 0
    for record in runlogs.records(state, spec.name, task, run, moment):
        typer.echo(format_line(record))
        shown += 1
    if not follow:
        if not shown:
            typer.echo(f"no output kept under {state}/{runlogs.LOG_DIR}/ for "
                       + (f"run {run}" if run else f"task {task}" if task else f"app {spec.name}"),
                       err=True)  # fmt: skip
        return
    try:
        _follow(state, spec.name, task, run)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _follow(state: Path, app_name: str, task: str | None, run: str | None) -> None:
    """Print lines appended after the first listing, polling the run files."""
    from flowc.emulator import runlogs

    offsets: dict[Path, int] = {}
    for _, _, parts in runlogs.run_files(state, app_name, task, run):
        for part in parts:
            offsets[part] = part.stat().st_size
    while True:
        time.sleep(FOLLOW_POLL_S)
        for task_name, run_id, parts in runlogs.run_files(state, app_name, task, run):
            current = parts[-1]
            size = current.stat().st_size if current.exists() else 0
            if size < offsets.get(current, 0):  # rotated: the file started again
                offsets[current] = 0
            records, offsets[current] = runlogs.read_lines(current, offsets.get(current, 0))
            for record in records:
                typer.echo(format_line(dict(record, task=task_name, run_id=run_id)))
        sys.stdout.flush()
