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
from flowc.cli.common import load_or_exit, print_diagnostics, storage_diagnostic
from flowc.cli.interrupts import Interrupts
from flowc.cli.paths import exit_on_problems, writable_dir
from flowc.diagnostics import Diagnostic, SourceCache
from flowc.targets.aws import TARGET as AWS

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
    plan: bool = typer.Option(False, "--plan", help="Only show what would change, per task; "
                              "exit 2 when something would."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Apply without asking (a terminal "
                             "is asked; scripts and CI never are)."),
    refresh: bool = typer.Option(False, "--refresh", help="Run Terraform even when nothing "
                                 "changed since the last `up`, to find changes made to the "
                                 "local cloud outside flowc."),
) -> None:
    """Compile the AWS target and apply it to LocalStack or an embedded AWS emulator."""
    from flowc.deploy.inventory import render
    from flowc.deploy.runner import up as run_up

    exit_on_problems(writable_dir(state, "--state", parents=False))
    spec = load_or_exit(file, env, target="aws")  # up applies aws only: its warnings only
    out, err = _consoles()
    from flowc.releases.plan import after_up, before_up  # releases: aliases, versions

    with Interrupts() as interrupts:
        try:
            release = before_up(spec, state)
            print_diagnostics(release.diagnostics, SourceCache())
            ask = not (plan or yes) and sys.stdin.isatty() and err.is_terminal
            outcome = run_up(spec, state, err, plan_only=plan,
                             confirm=_asker(out, err, file) if ask else None,
                             releases=release.releases, refresh=refresh)
        except BaseException as exc:
            interrupts.stop_if_interrupted(exc, err, "up")
            if isinstance(exc, OSError):  # a read-only or full --state
                print_diagnostics([storage_diagnostic(exc)], SourceCache())
                raise typer.Exit(1) from None
            raise
    after_up(release, state, outcome.result is not None or outcome.unchanged)
    print_diagnostics(outcome.diagnostics, SourceCache())
    if plan:
        _print_plan(out, err, outcome.plan, file)
        raise typer.Exit(1 if not outcome.ok else 0 if outcome.plan.empty else 2)
    if outcome.declined:
        err.print("Nothing applied.")
        raise typer.Exit(1)
    result = outcome.result
    if outcome.unchanged:
        err.print(f"No changes: nothing changed since the last `up` of {file} and the local "
                  "cloud still holds what it made, so Terraform did not run (`--refresh` "
                  "runs it anyway).", highlight=False)
    if result is not None and result.applied is not None:
        add, change, remove = result.applied
        err.print(f"Applied to {outcome.cloud.description}: {add} added, {change} changed, "
                  f"{remove} destroyed.", highlight=False)
    if outcome.rows or outcome.others:
        out.print(render(outcome.rows, outcome.others))
    if outcome.cloud is not None and (result is not None or outcome.unchanged):
        region = AWS.settings_of(spec).region
        flags = f" --env {env}" if env else ""
        err.print(
            f"Inspect it: AWS_ENDPOINT_URL={outcome.cloud.endpoint} AWS_ACCESS_KEY_ID=test "
            f"AWS_SECRET_ACCESS_KEY=test aws --region {region} scheduler list-schedules\n"
            f"Remove it:  flowc down {file}{flags}", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if outcome.ok else 1)


def _print_plan(out, err, plan, file: str) -> None:
    from flowc.deploy.plan import render

    if plan is None:
        return
    if plan.empty:
        err.print(f"No changes: the local cloud matches {file}.", highlight=False)
    else:
        out.print(render(plan, f"flowc up {file} would change"))


def _asker(out, err, file: str):
    """The question `flowc up` asks on a terminal before applying a plan."""

    def ask(plan) -> bool:
        _print_plan(out, err, plan, file)
        return typer.confirm("Apply these changes?", default=False, err=True)

    return ask


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
    with Interrupts() as interrupts:
        try:
            outcome = run_down(loaded.app if loaded.ok else None, stack, state, err,
                               keep_emulator)
        except BaseException as exc:
            interrupts.stop_if_interrupted(exc, err, "down")
            raise
    print_diagnostics(outcome.diagnostics, loaded.sources)
    if outcome.message:
        err.print(outcome.message, highlight=False)
    if outcome.stopped is not None:
        err.print(f"stopped the {outcome.stopped.description}", highlight=False)
    raise typer.Exit(0 if outcome.ok else 1)


@app.command()
def status(
    file: str = typer.Argument(..., help="The .flow file.", metavar="FILE"),
    env: str | None = typer.Option(None, "--env", help="The environment given to `up`."),
    state: Path = typer.Option(Path(".flowc"), "--state", help=STATE_HELP),
) -> None:
    """What `flowc up` deployed, per task: schedules, versions, alias, dead letters waiting;
    per service: ECS services, load balancer, traffic weights, HTTP API."""
    import json

    from flowc.deploy import localcloud
    from flowc.deploy.inventory import state_resources
    from flowc.deploy.runner import root_dir, stack_dir
    from flowc.deploy.status import render, render_services
    from flowc.deploy.status import services as read_services
    from flowc.deploy.status import status as read_status
    from flowc.targets.compile import TF_FILE

    spec = load_or_exit(file, env, quiet_ok=True)
    out, err = _consoles()
    workdir = stack_dir(state, spec.stack_name) / "aws"
    cloud = localcloud.recorded(root_dir(state))
    if not state_resources(workdir):
        err.print(f"Nothing is deployed for {file}" + (f" --env {env}" if env else "")
                  + f" under {state}/: run `flowc up {file}` first.", highlight=False)
        raise typer.Exit(0)
    if cloud is None or not localcloud.alive(cloud):
        print_diagnostics([Diagnostic(
            "E601", f"the local cloud that holds {spec.stack_name} does not answer", None,
            "run `flowc up` again to start it (an embedded server's contents are gone with "
            "it)")], SourceCache())  # fmt: skip
        raise typer.Exit(1)
    doc = json.loads((workdir / TF_FILE).read_text())
    region = AWS.settings_of(spec).region
    rows = read_status(spec, doc, workdir, cloud.endpoint, region)
    if rows or not spec.services_for("aws"):
        out.print(render(rows, f"Deployed in {cloud.description}"))
    if spec.services_for("aws"):
        out.print(render_services(read_services(spec, doc, workdir, cloud.endpoint, region)))
