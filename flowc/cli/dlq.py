"""`flowc dlq FILE [TASK]` and `flowc dlq redrive FILE TASK (--run ID | --all)`.

The dead letters are read from the emulator's queues (LocalStack, or an embedded server
started for the command and given back the letters kept under `--state`, see
flowc/emulator/deadletters.py). Redrive replays each letter through the same path as
`flowc run` (retries, a new dead letter if it fails again) and deletes it only after the
replay is recorded; it exits 0 when every replay succeeded, else 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from flowc.cli.app import app
from flowc.cli.common import OutputFormat
from flowc.diagnostics import Diagnostic, render_text

USAGE = "flowc dlq FILE [TASK]  |  flowc dlq redrive FILE TASK (--run ID | --all)"


def _fail(code: str, message: str, help: str, exit_code: int = 1) -> typer.Exit:
    sys.stderr.write(render_text([Diagnostic(code, message, help=help)]))
    return typer.Exit(exit_code)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def dlq(
    words: list[str] = typer.Argument(..., metavar="[redrive] FILE [TASK]", help=USAGE),
    run: list[str] = typer.Option([], "--run", help="redrive: this run's letter (repeatable)."),
    all_: bool = typer.Option(False, "--all", help="redrive: every letter of the task."),
    env: str | None = typer.Option(None, "--env", help="Apply this environment's overrides."),
    speed: str = typer.Option("1", "--speed", help="redrive: virtual clock speed (back-off), "
                              "or `max`."),
    state: Path = typer.Option(Path(".flowc"), "--state", help="Run history directory."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
) -> None:
    """List dead-lettered runs from the emulator's queues, or replay them (`redrive`)."""
    redriving = words[0] == "redrive"
    if redriving:
        words = words[1:]
    if not 1 <= len(words) <= 2 or (redriving and len(words) != 2):
        raise _fail("E522" if redriving else "E501", f"usage: {USAGE}",
                    "name the .flow file, and for redrive the task", 2)  # fmt: skip
    if redriving and bool(run) == all_:
        raise _fail("E522", "flowc dlq redrive: give exactly one of --run ID and --all",
                    "`flowc dlq FILE TASK` lists the run ids of the dead letters", 2)
    file, task = Path(words[0]), words[1] if len(words) == 2 else None
    session = _session(file, env, state, task, speed)
    try:
        tasks = _tasks(session, task)
        if redriving:
            code = _redrive(session, tasks[0], set(run) if run else None, format)
        else:
            code = _list(session, tasks, format)
    finally:
        session.close(grace=2.0)
    raise typer.Exit(code)


def _session(file: Path, env: str | None, state: Path, task: str | None, speed: str):
    from flowc.cli.dev import speed_option
    from flowc.cli.logs import task_or_exit
    from flowc.emulator.session import Options, Session
    from flowc.emulator.view import PlainView

    options = Options(spec=file, env=env, speed=speed_option(speed), state_dir=state, watch=False,
                      exclusive=False)  # alongside a running `flowc dev`, like `flowc run`
    session = Session(options, PlainView(sys.stderr, output_stream=sys.stdout))
    if session.load() != 0:
        raise typer.Exit(1)
    assert session.app is not None
    task_or_exit(session.app, file, task)
    if task is not None and session.app.task(task).on_failure != "dead_letter":
        raise _fail("E520", f"task `{task}` in {file} has no dead-letter queue "
                    "(on_failure = discard): its failed runs are only in `flowc runs`",
                    f"remove `on_failure = discard` from task `{task}` to keep failed runs")
    if session.connect() != 0:
        session.close(grace=0)
        raise typer.Exit(1)
    return session


def _tasks(session, name: str | None) -> list:
    if name is not None:
        return [session.app.task(name)]
    return [t for t in session.app.tasks if t.on_failure == "dead_letter"]


def _tail(body: dict) -> str:
    text = (body.get("stderr_tail") or body.get("error") or "").strip()
    return text.splitlines()[-1][:100] if text else "-"


def _list(session, tasks: list, format: OutputFormat) -> int:
    from flowc.emulator.clock import iso

    rows = []
    for task in tasks:
        for letter in session.cloud.dead_letters(session.app, task.name):
            body = letter.body
            rows.append({"task": task.name, "run_id": letter.run_id,
                         "failed_at": body.get("failed_at") or (
                             iso(letter.sent_at) if letter.sent_at else None),
                         "attempts": body.get("attempts"), "exit_code": body.get("exit_code"),
                         "error": _tail(body), "message_id": letter.message_id})  # fmt: skip
    if format == OutputFormat.json:
        typer.echo(json.dumps(rows, indent=2))
        return 0
    if not rows:
        typer.echo("no dead letters in " + ", ".join(
            f"`{t.name}`" for t in tasks) if tasks else "no task has a dead-letter queue",
            err=True)  # fmt: skip
        return 0
    header = ("TASK", "RUN", "FAILED AT", "ATTEMPTS", "EXIT", "ERROR")
    table = [header] + [(r["task"], r["run_id"], r["failed_at"] or "-", str(r["attempts"]),
                         "-" if r["exit_code"] is None else str(r["exit_code"]), r["error"])
                        for r in rows]  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _redrive(session, task, run_ids: set[str] | None, format: OutputFormat) -> int:
    from flowc.emulator.redrive import redrive

    session.start_executor()
    if run_ids:
        present = {x.run_id for x in session.cloud.dead_letters(session.app, task.name)}
        missing = sorted(run_ids - present)
        if missing:
            raise _fail("E521", f"the dead-letter queue of `{task.name}` holds no letter of "
                        f"run {', '.join(missing)}",
                        f"`flowc dlq {session.options.spec} {task.name}` lists its letters")
    results = []
    for done in redrive(session.app, task, session.cloud, session.history, session.executor,
                        run_ids):  # fmt: skip
        results.append(done)
        if format == OutputFormat.text:
            how = " (replayed by an earlier redrive)" if done.earlier else ""
            typer.echo(f"{done.letter.run_id} -> run {done.replay_run_id}: {done.status}{how}")
    if format == OutputFormat.json:
        typer.echo(json.dumps([{"run_id": r.letter.run_id, "replay_run_id": r.replay_run_id,
                                "status": r.status, "exit_code": r.exit_code,
                                "earlier": r.earlier} for r in results], indent=2))
    elif not results:
        typer.echo(f"no dead letters to replay in `{task.name}`", err=True)
    return 0 if all(r.status == "succeeded" for r in results) else 1
