"""Where each task's alias points in this compile, from the release log: the hooks that
`flowc compile` and `flowc up` call around the AWS target.

    prepared = prepare(app, state_dir, workdir)   # sync versions, record the release
    compile_app(app, ..., releases=prepared.releases)  # where each alias goes
    prepared.commit()                             # save the log (only after a good compile)
    ... terraform apply ...
    after_apply(app, state_dir, workdir)          # read the new versions back

For a python task on AWS (a `flowc.targets.base.TaskRelease`, read by
flowc/targets/aws/release.py; the IR is not rewritten):
- `pinned_version`: `flowc rollback` pinned the alias, and the task's function has not
  changed since; the alias points at that version.
- `stable_version`: a canary is running. The alias keeps the version that is live now
  (read from the Terraform state) and sends `canary`% of runs to the newest version,
  until `for` has passed since that version was deployed; the first compile after
  that promotes it (alias follows the latest version again).
- neither: the alias follows the latest published version. A task with `canary` whose
  live version flowc has never seen (first deploy, or no local Terraform state) goes
  live at once, with warning W710.

A python service on AWS gets a `TaskRelease` the same way (its HTTP API invokes an alias).
For an image service with two colours on AWS, a `flowc.releases.colours.ServiceHistory`
(what each colour runs, the weights, the canary's start, a rollback pin, the bodies the
log keeps), from which the builder decides each colour and the weights
(`colours.decide`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App, PythonHandler, Service, Task, unit_kind
from flowc.diagnostics import Diagnostic
from flowc.releases.colours import ServiceHistory, has_colours
from flowc.releases.log import ReleaseLog, functions, now_utc, parse_time
from flowc.releases.state import deployed, deployed_services
from flowc.targets.base import TaskRelease

UP_LABEL = "flowc up (local cloud)"


def deployment_key(workdir: str | Path) -> str:
    return str(Path(workdir).resolve())


@dataclass
class Prepared:
    app: App
    log: ReleaseLog
    release: dict[str, Any]
    new: bool
    key: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # for compile_app: by task name, and by name of a service with two colours
    releases: dict[str, TaskRelease | ServiceHistory] = field(default_factory=dict)

    def commit(self) -> None:
        self.log.save()


def prepare(app: App, state_dir: str | Path, workdir: str | Path, label: str | None = None,
            now: datetime | None = None, exclude: Iterable[Path] = (),
            warn: bool = True) -> Prepared:
    """Sync versions from `workdir`'s state, record the release, decide every alias."""
    now = now or now_utc()
    log = ReleaseLog.load(state_dir, app)
    key = deployment_key(workdir)
    refresh(log, key, label, now)
    release, new = log.record(app, now, exclude)
    releases, diagnostics = plan(app, log, key, release, now, warn)
    return Prepared(app, log, release, new, key, diagnostics, releases)


def refresh(log: ReleaseLog, key: str, label: str | None = None,
            now: datetime | None = None) -> bool:
    """Sync deployment `key` (a working directory) from its local Terraform state: task
    versions and aliases, two-colour services. False when there is no readable state."""
    seen = deployed(key)
    if seen is None:
        log.deployment(key, label)
        return False
    log.sync(key, seen, label, now)
    log.sync_services(key, deployed_services(key) or {}, label, now)
    return True


def before_up(app: App, state_dir: str | Path) -> Prepared:
    """`flowc up`: prepare against the stack's working directory (`<state>/up/<stack>/aws`)."""
    from flowc.deploy.runner import stack_dir

    workdir = stack_dir(Path(state_dir), app.stack_name) / "aws"
    return prepare(app, state_dir, workdir, UP_LABEL, exclude=[Path(state_dir)])


def after_up(prepared: Prepared, state_dir: str | Path, applied: bool) -> None:
    """`flowc up`: keep the release once Terraform ran, and read its versions back."""
    if not applied:
        return
    prepared.commit()
    after_apply(prepared.app, state_dir, prepared.key, UP_LABEL)


def after_apply(app: App, state_dir: str | Path, workdir: str | Path,
                label: str | None = None) -> ReleaseLog:
    """Read the versions an apply published back into the log (and save it)."""
    log = ReleaseLog.load(state_dir, app)
    if refresh(log, deployment_key(workdir), label):
        log.save()
    return log


def plan(app: App, log: ReleaseLog, key: str, release: dict[str, Any], now: datetime,
         warn: bool = True
         ) -> tuple[dict[str, TaskRelease | ServiceHistory], list[Diagnostic]]:
    """Where each task's alias points in deployment `key`, and what flowc knows of each
    two-colour service there (the AWS builder's input)."""
    dep = log.deployment(key)
    diagnostics: list[Diagnostic] = []
    releases: dict[str, TaskRelease | ServiceHistory] = {
        s.name: log.service_history(key, s.name, now)
        for s in app.services if s.runs_on("aws") and has_colours(s)}
    fids = functions(release)
    for unit in (*app.tasks, *(s for s in app.services if s.handler.kind == "python")):
        releases[unit.name] = TaskRelease(**_decide(
            unit, fids.get(unit.name), log, key, dep, now, diagnostics if warn else []))
    return releases, diagnostics


def _decide(task: Task | Service, fid: str | None, log: ReleaseLog, key: str,
            dep: dict[str, Any], now: datetime, diagnostics: list[Diagnostic]
            ) -> dict[str, Any]:
    fields: dict[str, Any] = {"release_id": fid}
    if not (isinstance(task.handler, PythonHandler) and task.runs_on("aws")) or fid is None:
        return fields
    pin = dep["pins"].get(task.name)
    if pin is not None:
        if pin.get("function_release") == fid:
            fields["pinned_version"] = pin["version"]
            return fields
        del dep["pins"][task.name]  # the function changed since the rollback
    if task.release.canary_percent is None:
        return fields
    live = dep["live"].get(task.name)
    if live is None:
        diagnostics.append(Diagnostic(
            "W710", f"{unit_kind(task)} `{task.name}` has a canary, but flowc has seen no live "
            f"version of it in {dep.get('label') or key}, so this release goes live at once",
            task.span, "the canary applies from the next release, once a deploy has been "
            "recorded (`flowc up`, or `terraform apply` in the compiled aws directory with "
            "its local state; see docs/releases.md)"))
        return fields
    if log.release_of_version(key, task.name, live["version"]) == fid:
        return fields  # the current function is the live one
    current = log.version_of(key, task.name, fid)
    if current is not None:
        if current.get("version") == live["version"]:
            return fields
        deployed_at = parse_time(current.get("deployed_at"))
        lasts = timedelta(seconds=task.release.canary_for_s or 0)
        if deployed_at is not None and now >= deployed_at + lasts:
            return fields  # the canary ran its course: promote
    fields["stable_version"] = live["version"]
    return fields
