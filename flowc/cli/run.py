"""`flowc run FILE TASK`: run one task once, locally, exactly as `flowc dev` would.

Same runner, secrets, timeout, retries (with their back-off, scaled by `--speed`)
and dead-letter queue; the run lands in the history. The exit code is the task's
exit code (124 for a timeout, 1 when it could not start).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import typer

from flowc.cli.app import app
from flowc.cli.dev import ISOLATE_OPTION, PULL_OPTION, Isolation
from flowc.cli.logs import task_or_exit


@app.command()
def run(
    file: Path = typer.Argument(..., help="The .flow file."),
    task: str = typer.Argument(..., help="The task to run."),
    env: str | None = typer.Option(None, "--env", help="Apply this environment's overrides."),
    state: Path = typer.Option(Path(".flowc"), "--state", help="Run history directory."),
    events: Path | None = typer.Option(None, "--events", help="Append events to this JSONL."),
    speed: str = typer.Option("1", "--speed", help="Virtual clock speed (retry back-off), "
                              "or `max`."),
    retries: bool = typer.Option(True, "--retries/--no-retries", help="Apply the task's retries."),
    pull: bool = PULL_OPTION,
    isolate: Isolation = ISOLATE_OPTION,
    input: str | None = typer.Option(None, "--input", help="The run's input instead of the "
                                     "task's: a JSON object, or @FILE holding one."),
) -> None:
    """Run one task once, locally, and exit with its exit code."""
    from flowc.cli.dev import speed_option
    from flowc.cli.paths import check_run_paths
    from flowc.emulator.session import Options, Session
    from flowc.emulator.view import PlainView

    check_run_paths(state, events)
    given = input_or_exit(input)
    options = Options(spec=file, env=env, speed=speed_option(speed), state_dir=state,
                      events=events, watch=False, pull=pull, isolate=isolate.value,
                      exclusive=False)  # fmt: skip
    session = Session(options, PlainView(sys.stderr, output_stream=sys.stdout))
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    code = 1
    try:
        if session.load() != 0:
            raise typer.Exit(1)
        assert session.app is not None
        task_or_exit(session.app, file, task)
        if session.connect() != 0:
            raise typer.Exit(1)
        try:
            outcome = session.run_once(task, retries=retries, input=given)
        except KeyboardInterrupt:
            sys.stderr.write("flowc run: interrupted\n")
            code = 130
        else:
            code = outcome.exit_code if outcome.exit_code is not None else 1
            sys.stderr.write(
                f"flowc run: {task} {outcome.status} after {outcome.attempts} attempt(s), "
                f"exit code {code} (run {outcome.run_id})\n"
            )
    finally:
        session.close(grace=2.0)
        signal.signal(signal.SIGTERM, previous)
    raise typer.Exit(code)


def input_or_exit(text: str | None) -> str | None:
    """`--input JSON|@FILE` as canonical JSON object text; E524 when it is not one."""
    import json

    from flowc.diagnostics import Diagnostic, render_text

    if text is None:
        return None
    where = "--input"
    try:
        if text.startswith("@"):
            where = text[1:]
            text = Path(where).read_text(encoding="utf-8")
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError(f"a JSON {type(value).__name__}, not an object")
    except (OSError, ValueError) as exc:
        sys.stderr.write(render_text([Diagnostic(
            "E524", f"{where}: not a JSON object ({exc})",
            help="write --input '{\"source\": \"crm\"}' or --input @input.json")]))
        raise typer.Exit(2) from None
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
