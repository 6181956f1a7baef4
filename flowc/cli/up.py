"""`flowc up FILE [--env NAME] [--state DIR]` and `flowc down FILE [--env NAME] [--state DIR]`.

`up` compiles the AWS target, applies it with Terraform to LocalStack (when one answers)
or to an embedded AWS emulator that keeps running in the background, streams progress,
and prints what was created, read back from that cloud. Running it again after an edit
applies only the difference. `down` destroys the stack and stops the emulator once no
stack under `--state` uses it. Exit code 1 on any error (diagnostics name the task).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from flowc.cli.app import app
from flowc.cli.common import load_or_exit, print_diagnostics
from flowc.diagnostics import SourceCache

STATE_HELP = "Where flowc keeps the emulator's pid/port and Terraform state (default .flowc)."


def _consoles():
    from rich.console import Console

    def width(stream) -> int | None:
        return None if stream.isatty() or os.environ.get("COLUMNS") else 160

    return Console(width=width(sys.stdout)), Console(stderr=True, width=width(sys.stderr))


@app.command()
def up(
    file: str = typer.Argument(..., help="The .flow file.", metavar="FILE"),
    env: str | None = typer.Option(None, "--env", help="Apply this environment."),
    state: Path = typer.Option(Path(".flowc"), "--state", help=STATE_HELP),
) -> None:
    """Compile the AWS target and apply it to LocalStack or an embedded AWS emulator."""
    from flowc.deploy.inventory import render
    from flowc.deploy.runner import up as run_up

    spec = load_or_exit(file, env)
    out, err = _consoles()
    from flowc.releases.plan import after_up, before_up  # releases: aliases, versions

    release = before_up(spec, state)
    print_diagnostics(release.diagnostics, SourceCache())
    try:
        outcome = run_up(release.app, state, err)
    except KeyboardInterrupt:
        err.print("interrupted: Terraform stopped and saved its state; run `flowc up` again")
        raise typer.Exit(130) from None
    after_up(release, state, outcome.result is not None)
    print_diagnostics(outcome.diagnostics, SourceCache())
    result = outcome.result
    if result is not None and result.applied is not None:
        add, change, remove = result.applied
        err.print(f"Applied to {outcome.cloud.description}: {add} added, {change} changed, "
                  f"{remove} destroyed.", highlight=False)
    if outcome.rows or outcome.others:
        out.print(render(outcome.rows, outcome.others))
    if outcome.cloud is not None and result is not None:
        region = spec.aws.region
        flags = f" --env {env}" if env else ""
        err.print(
            f"Inspect it: AWS_ENDPOINT_URL={outcome.cloud.endpoint} AWS_ACCESS_KEY_ID=test "
            f"AWS_SECRET_ACCESS_KEY=test aws --region {region} scheduler list-schedules\n"
            f"Remove it:  flowc down {file}{flags}", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if outcome.ok else 1)


@app.command()
def down(
    file: str = typer.Argument(..., help="The .flow file.", metavar="FILE"),
    env: str | None = typer.Option(None, "--env", help="The environment given to `up`."),
    state: Path = typer.Option(Path(".flowc"), "--state", help=STATE_HELP),
    keep_emulator: bool = typer.Option(
        False, "--keep-emulator", help="Leave the embedded emulator running."),
) -> None:
    """Destroy what `flowc up` created and stop the embedded AWS emulator."""
    from flowc.compiler.pipeline import load
    from flowc.deploy.runner import down as run_down
    from flowc.deploy.runner import find_stack

    loaded = load(file, env)
    stack = find_stack(state, file, env)
    if loaded.ok:
        stack = loaded.app.stack_name
    elif stack is None:  # a spec that no longer loads can still be taken down by its record
        print_diagnostics(loaded.diagnostics, loaded.sources)
        raise typer.Exit(1)
    out, err = _consoles()
    try:
        outcome = run_down(loaded.app if loaded.ok else None, stack, state, err, keep_emulator)
    except KeyboardInterrupt:
        err.print("interrupted: Terraform stopped and saved its state; run `flowc down` again")
        raise typer.Exit(130) from None
    print_diagnostics(outcome.diagnostics, loaded.sources)
    if outcome.message:
        err.print(outcome.message, highlight=False)
    if outcome.stopped is not None:
        err.print(f"stopped the {outcome.stopped.description}", highlight=False)
    raise typer.Exit(0 if outcome.ok else 1)
