"""`flowc releases FILE [--env] [--state]` and `flowc rollback FILE TASK --to RELEASE`.

`releases` lists the release log (`<state>/releases/<stack>.json`): id, time, spec hash,
what changed, and per deployment the Lambda version of each task and where its alias
points (versions are read back from each deployment's Terraform state first).
`rollback` pins the alias of a python task (or of a python service on AWS) to the
version of an earlier release: it records
the pin, rewrites the alias in every compiled directory that knows that version (so
`terraform plan` there shows one change) and applies it to the local cloud of
`flowc up` when that is running. For a service with two colours (blue_green, canary)
it moves all traffic back to the other colour the same way (only the listener rule's
weights change). Exit 1 with E710-E712 on a bad request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import typer

from flowc.cli.app import app
from flowc.cli.common import OutputFormat, load_or_exit, print_diagnostics

STATE_HELP = "flowc's state directory (release log, flowc up stacks); default .flowc"


def _load_log(spec: Any, state: Path) -> Any:
    """The release log with every deployment's versions refreshed from its state."""
    from flowc.releases.log import ReleaseLog
    from flowc.releases.plan import refresh

    log = ReleaseLog.load(state, spec)
    for key, dep in list(log.deployments().items()):
        refresh(log, key, dep.get("label"))
    return log


def _services(log: Any) -> list[str]:
    """Per deployment, each two-colour service: colour, image, weight (and the pin)."""
    out = []
    for key, dep in sorted(log.deployments().items()):
        for name, entry in sorted((dep.get("services") or {}).items()):
            pin = (dep.get("service_pins") or {}).get(name) or {}
            cells = []
            for colour, info in sorted((entry.get("colours") or {}).items()):
                marks = [f"{info.get('weight', 0)}%"]
                if (entry.get("canary") or {}).get("colour") == colour:
                    marks.append(f"canary since {entry['canary'].get('since')}")
                if pin.get("colour") == colour:
                    marks.append("pinned")
                cells.append(f"{colour}={info.get('image') or '?'} ({', '.join(marks)})")
            out.append(f"{dep.get('label') or key}: {name} {' '.join(cells)}")
    return out


def _changed(log: Any, release: dict[str, Any], index: int) -> str:
    before = log.releases[index - 1] if index else None
    names = [t for t, e in sorted(release["tasks"].items())
             if e.get("function_release") == release["id"]]
    removed = sorted(set(before["tasks"]) - set(release["tasks"])) if before else []
    earlier = (before or {}).get("services") or {}
    services = sorted(s for s, e in (release.get("services") or {}).items()
                      if earlier.get(s) != e)
    removed += sorted(set(earlier) - set(release.get("services") or {}))
    parts = names + services + [f"-{t}" for t in removed]
    if not parts:
        parts = ["spec"]
    return ", ".join(parts)


def _versions(log: Any, release: dict[str, Any]) -> list[str]:
    """Per deployment, the Lambda version of each task and python service (and marks)."""
    from flowc.releases.log import functions

    out = []
    for key, dep in sorted(log.deployments().items()):
        cells = []
        for task, fid in sorted(functions(release).items()):
            info = (dep.get("versions") or {}).get(task, {}).get(fid)
            if not info:
                continue
            version = info["version"]
            live = (dep.get("live") or {}).get(task) or {}
            pin = (dep.get("pins") or {}).get(task) or {}
            marks = []
            if live.get("version") == version:
                marks.append("live")
            canary = live.get("canary") or {}
            if canary.get("version") == version:
                marks.append(f"canary {canary.get('weight', 0) * 100:g}%")
            if pin.get("version") == version:
                marks.append("pinned")
            cells.append(f"{task}=v{version}" + (f" ({', '.join(marks)})" if marks else ""))
        if cells:
            cells_text = " ".join(cells)
            out.append(f"{dep.get('label') or key}: {cells_text}")
    return out


@app.command()
def releases(
    file: str = typer.Argument(..., help="The .flow file.", metavar="FILE"),
    env: str | None = typer.Option(None, "--env", help="The environment."),
    state: Path = typer.Option(Path(".flowc"), "--state", help=STATE_HELP),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text or json."),
) -> None:
    """List the releases flowc recorded for a spec, oldest first, with deployed versions."""
    spec = load_or_exit(file, env, format, quiet_ok=True)
    log = _load_log(spec, state)
    if format == OutputFormat.json:
        rows = [dict(r, changed=_changed(log, r, i).split(", "), deployed=_versions(log, r))
                for i, r in enumerate(log.releases)]
        typer.echo(json.dumps({"log": str(log.path), "releases": rows,
                               "deployments": log.deployments()}, indent=2, sort_keys=True))
        return
    services = _services(log)
    if services:
        typer.echo("SERVICES (colour=image (weight))")
        for line in services:
            typer.echo("  " + line)
    if not log.releases:
        typer.echo(f"no releases recorded for {spec.stack_name} under {state}/ (`flowc "
                   "compile` and `flowc up` record them)", err=True)
        return
    header = ("RELEASE", "TIME", "SPEC", "CHANGED")
    table = [header] + [(r["id"], r["time"], r["spec_hash"][:12], _changed(log, r, i))
                        for i, r in enumerate(log.releases)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        typer.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n:
            for line in _versions(log, log.releases[n - 1]):
                typer.echo(" " * (widths[0] + 2) + line)


@app.command()
def rollback(
    file: str = typer.Argument(..., help="The .flow file.", metavar="FILE"),
    task: str = typer.Argument(..., help="The task or python service whose alias moves, or "
                               "the image service whose traffic goes back to its other "
                               "colour.", metavar="TASK"),
    to: str | None = typer.Option(None, "--to", help="The release to go back to (e.g. r3; "
                                  "tasks and python services).", metavar="RELEASE"),
    env: str | None = typer.Option(None, "--env", help="The environment."),
    state: Path = typer.Option(Path(".flowc"), "--state", help=STATE_HELP),
) -> None:
    """Point a task's alias at the version of an earlier release, or a service's traffic at
    its other colour (and apply it locally)."""
    from flowc.diagnostics import Diagnostic, SourceCache
    from flowc.releases.rollback import pin, resolve

    spec = load_or_exit(file, env, quiet_ok=True)
    log = _load_log(spec, state)
    if any(s.name == task and s.handler.kind != "python" for s in spec.services):
        _rollback_service(spec, log, state, task)  # an image service: its colours
    if to is None:
        span = next((t.span for t in (*spec.tasks, *spec.services) if t.name == task), None)
        print_diagnostics([Diagnostic(
            "E710", f"`flowc rollback {file} {task}` needs the release to go back to", span,
            "add `--to RELEASE` (`flowc releases FILE` lists them)")], SourceCache())
        raise typer.Exit(1)
    req = resolve(spec, log, task, to)
    if not req.ok:
        print_diagnostics(req.diagnostics, SourceCache())
        raise typer.Exit(1)
    pin(log, req)
    log.save()
    alias = next(u for u in (*spec.tasks, *spec.services) if u.name == task).release.alias
    _apply_changes(spec, state, req.changes, lambda change: (
        f"{task}: alias `{alias}` -> version {change.version} (release {req.release['id']}) "
        f"in {change.label}",
        f"aws_lambda_alias.{req.stem}_alias: {change.before} -> version {change.version}",
        "the next compile writes the pinned alias"))


def _rollback_service(spec: Any, log: Any, state: Path, name: str) -> None:
    """`flowc rollback FILE SERVICE`: all traffic to the other colour; exits."""
    from flowc.diagnostics import SourceCache
    from flowc.releases.rollback import pin_service, resolve_service

    req = resolve_service(spec, log, name)
    if not req.ok:
        print_diagnostics(req.diagnostics, SourceCache())
        raise typer.Exit(1)
    pin_service(log, req)
    log.save()
    _apply_changes(spec, state, req.changes, lambda change: (
        f"{name}: all traffic -> {change.version} in {change.label}",
        f"aws_lb_listener_rule.svc_{name}_traffic: weights {change.before} -> "
        f"{change.version} 100",
        "the next compile writes the weights"))


def _apply_changes(spec: Any, state: Path, changes: list[Any],
                   words: Callable[[Any], tuple[str, str, str]]) -> NoReturn:
    """Say what a rollback rewrote in each deployment and apply it to the local cloud of
    `flowc up`; exits. `words(change)`: (headline, the rewritten resource's change, what
    happens where nothing is compiled yet)."""
    failed = False
    for change in changes:
        headline, rewritten, later = words(change)
        typer.echo(headline, err=True)
        if change.compiled:
            typer.echo(f"  ~ {rewritten}" + ("" if change.written else " (already written)"),
                       err=True)
        else:
            typer.echo(f"  not compiled there yet: {later}", err=True)
        if change.compiled and _is_up_stack(spec, state, change.key):
            failed |= not _apply_local(spec, state, Path(change.key))
        elif change.compiled:
            typer.echo(f"  apply it: terraform -chdir={change.key} apply", err=True)
    raise typer.Exit(1 if failed else 0)


def _is_up_stack(spec: Any, state: Path, key: str) -> bool:
    from flowc.deploy.runner import stack_dir
    from flowc.releases.plan import deployment_key

    return deployment_key(stack_dir(state, spec.stack_name) / "aws") == key


def _apply_local(spec: Any, state: Path, workdir: Path) -> bool:
    """Apply the pinned alias to the local cloud of `flowc up`, if it is running."""
    from flowc.deploy import localcloud
    from flowc.deploy.runner import deploy, root_dir
    from flowc.deploy.terraform import TerraformError
    from flowc.releases.plan import after_apply

    cloud = localcloud.recorded(root_dir(state))
    if cloud is None or not localcloud.alive(cloud):
        typer.echo("  the local cloud of `flowc up` is not running; `flowc up` applies the "
                   "pinned alias", err=True)
        return True
    try:
        result, problems = deploy(spec, workdir, cloud, state)
    except TerraformError as exc:
        print_diagnostics([exc.diagnostic])
        return False
    print_diagnostics(problems)
    if result.plan is not None:
        add, change, remove = result.plan
        planned = ", ".join(sorted(result.planned)) or "nothing"
        typer.echo(f"  Plan: {add} to add, {change} to change, {remove} to destroy "
                   f"({planned})", err=True)
    if not result.ok or any(d.is_error for d in problems):
        return False
    after_apply(spec, state, workdir, None)
    typer.echo(f"  applied to {cloud.description}", err=True)
    return True
