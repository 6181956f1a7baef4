"""`flowc dev FILE`: run every task on its schedule locally, with hot reload.

Ctrl-C (SIGINT) or SIGTERM stops cleanly: no new fires, runs in flight get
`--grace` seconds, then SIGTERM and SIGKILL to their process groups; history is
flushed and the embedded AWS server stopped. A second Ctrl-C skips the grace.
`--for 10m` stops by itself after that much virtual time, letting the runs in
flight (and their retries) finish first.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import typer

from flowc.cli.app import app
from flowc.cli.paths import check_run_paths
from flowc.diagnostics import Diagnostic, render_text


class Isolation(str, Enum):
    process = "process"
    docker = "docker"


PULL_OPTION = typer.Option(
    False, "--pull", help="Pull images missing locally (default: never reach a registry)."
)
ISOLATE_OPTION = typer.Option(
    Isolation.process, "--isolate",
    help="Run python tasks as plain processes, or in Docker in the k8s target's python image.",
)  # fmt: skip


def option_error(message: str, help: str) -> typer.Exit:
    sys.stderr.write(render_text([Diagnostic("E506", message, help=help)]))
    return typer.Exit(2)


def speed_option(text: str) -> float:
    """`--speed X|max` as a number (max: infinity) or raise typer.Exit with E506."""
    from flowc.emulator.clock import parse_speed

    try:
        return parse_speed(text)
    except ValueError:
        raise option_error(
            f"--speed must be a positive number or `max`, not {text!r}",
            "e.g. --speed 60, or --speed max to run as fast as the runs allow",
        ) from None


def parse_window(run_for: str | None, start: str | None):
    """(--for seconds, --start datetime) or raise typer.Exit with diagnostic E506."""
    from flowc.emulator.clock import parse_duration

    seconds = None
    if run_for is not None:
        try:
            seconds = parse_duration(run_for)
        except ValueError:
            raise option_error(
                f"--for {run_for!r} is not a duration", "write it like 90s, 10m, 2h or 1d"
            ) from None
        if not math.isfinite(seconds) or seconds <= 0:
            raise option_error(f"--for must be a positive duration, not {run_for!r}",
                               "write it like 90s, 10m, 2h or 1d")
    moment = None
    if start is not None:
        try:
            moment = datetime.fromisoformat(start)
        except ValueError:
            raise option_error(
                f"--start {start!r} is not an ISO 8601 time", "e.g. 2026-03-29T00:59:00+01:00"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return seconds, moment


@app.command()
def dev(
    file: Path = typer.Argument(..., help="The .flow file."),
    speed: str = typer.Option(
        "1", "--speed", help="Run the virtual clock X times faster, or `max`: as fast as the "
        "runs allow (no fire is ever skipped)."),
    events: Path | None = typer.Option(
        None, "--events", help="Append one JSON object a line per event to this file."
    ),
    state: Path = typer.Option(Path(".flowc"), "--state", help="Run history directory."),
    env: str | None = typer.Option(None, "--env", help="Apply this environment's overrides."),
    run_for: str | None = typer.Option(
        None, "--for", help="Stop after this much virtual time (e.g. 10m), then exit 0."
    ),
    start: str | None = typer.Option(
        None, "--start", help="Start the virtual clock at this ISO time (default: now)."
    ),
    grace: float = typer.Option(5.0, "--grace", help="Seconds runs in flight get on stop."),
    plain: bool = typer.Option(False, "--plain", help="Plain lines even on a terminal."),
    watch: bool = typer.Option(True, "--watch/--no-watch", help="Hot reload on changes."),
    pull: bool = PULL_OPTION,
    isolate: Isolation = ISOLATE_OPTION,
    only: list[str] = typer.Option(
        [], "--only", help="Run just this task or service (repeat for more)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the tasks' `jitter` delays (the "
                             "same seed gives the same delays)."),
) -> None:
    """Run every task on its schedule and every service behind a local proxy, with hot
    reload."""
    rate = speed_option(speed)
    seconds, moment = parse_window(run_for, start)
    if not math.isfinite(grace) or grace < 0:
        raise option_error(f"--grace must be zero or more seconds, not {grace:g}",
                           "e.g. --grace 5")
    check_run_paths(state, events)
    from flowc.emulator.session import Options, Session
    from flowc.emulator.view import make_view

    options = Options(
        spec=file, env=env, speed=rate, start=moment, run_for=seconds, state_dir=state,
        events=events, grace=grace, watch=watch, pull=pull, isolate=isolate.value,
        only=tuple(only), seed=seed,
    )  # fmt: skip
    session = Session(options, make_view(plain))
    stop = threading.Event()
    force = threading.Event()

    def stop_or_force() -> None:
        if stop.is_set():  # second signal: no more grace
            force.set()
            if session.executor is not None:
                session.executor.abort.set()
        stop.set()

    def on_signal(signum, frame) -> None:
        # Not Event.set() here: the handler runs in the main thread, which may hold that
        # event's lock inside `stop.wait()` at this instant, and would deadlock on it.
        threading.Thread(target=stop_or_force, name="flowc-signal", daemon=True).start()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        code = session.open()
        if code == 0 and not stop.is_set():
            code = session.start(stop)
        if code == 0 and not stop.is_set():
            finished = session.wait(stop)
            session.view.message(
                "flowc dev: window over, finishing runs in flight"
                if finished
                else "flowc dev: stopping (runs in flight get their grace period)"
            )
            session.close(drain=finished, grace=0 if force.is_set() else None)
    finally:
        session.close(grace=0)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if session.fault.is_set():  # storage failed: the E532 diagnostic and the count are above
        code = 1
    raise typer.Exit(code)
