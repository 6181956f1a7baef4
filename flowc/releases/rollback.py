"""`flowc rollback FILE TASK --to RELEASE`: point a task's alias at a recorded version.

`resolve()` checks the request against the spec and the release log (E710 unknown
release, E711 version never deployed, E712 task that has no alias) and finds every
deployment (Terraform working directory) that knows the release's version of the task.
`pin()` records the pin in the log (so later compiles keep the alias there until the
task's function changes again) and rewrites only the alias in that directory's compiled
`cdk.tf.json` (flowc.targets.aws.release.pin_alias), so `terraform plan` shows one change.
Applying it to the local cloud of `flowc up` is the command's job (flowc/cli/releases.py).

A python service on AWS has an alias too and is rolled back the same way (`--to`).
`flowc rollback FILE SERVICE` (a service with two colours, flowc/releases/colours.py):
`resolve_service()` finds every deployment where the colour out of traffic runs another
task definition than the live one (E711 otherwise, E712 for a service without colours);
`pin_service()` pins that colour (it keeps all traffic until the spec's task definition
changes) and rewrites only the traffic rule's weights in the compiled `cdk.tf.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App, PythonHandler, unit_kind
from flowc.compiler.values import did_you_mean
from flowc.diagnostics import Diagnostic
from flowc.releases.colours import COLOURS, has_colours, live_colour, other
from flowc.releases.log import ReleaseLog, normalise_id
from flowc.targets.aws.release import alias_stem
from flowc.targets.compile import TF_FILE, write_if_changed


@dataclass
class Change:
    """One deployment whose alias the rollback moves."""

    key: str  # the Terraform working directory
    label: str
    version: str  # a task's version; for a service, the colour that takes the traffic
    before: str | None = None  # what the compiled alias said before ("${...version}" or "3")
    written: bool = False  # cdk.tf.json rewritten
    compiled: bool = True  # False: no cdk.tf.json there (the next compile writes the pin)


@dataclass
class Request:
    task: str  # or service
    stem: str | None = None  # resource stem of its alias (targets.aws.release.alias_stem)
    release: dict[str, Any] | None = None
    function_release: str | None = None  # the task's function now (latest release)
    changes: list[Change] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def resolve(app: App, log: ReleaseLog, task_name: str, release_id: str) -> Request:
    req = Request(task_name)
    units = {u.name: u for u in (*app.tasks, *app.services)}
    names = [t.name for t in app.tasks]
    if task_name not in units:
        req.diagnostics.append(Diagnostic(
            "E712", f"the spec has no task `{task_name}`", None,
            did_you_mean(task_name, names, "tasks:") or f"tasks: {', '.join(names) or 'none'}"))
        return req
    task = units[task_name]
    req.stem = alias_stem(task)
    if not (isinstance(task.handler, PythonHandler) and task.runs_on("aws")):
        req.diagnostics.append(Diagnostic(
            "E712", f"{unit_kind(task)} `{task_name}` has no Lambda alias to roll back (only "
            "python tasks and services on aws have one)", task.span,
            "on GCP and Kubernetes, compile and apply the earlier release's spec and code: "
            "their code objects are content-addressed (docs/releases.md)"))
        return req
    known = log.ids()
    release = log.find(release_id)
    if release is None:
        where = f"`{log.path}`"
        req.diagnostics.append(Diagnostic(
            "E710", f"no release `{release_id}` in the release log {where}", task.span,
            f"known releases: {', '.join(known)} (see `flowc releases FILE`)" if known else
            "no release is recorded yet: `flowc compile` or `flowc up` records one"))
        return req
    req.release = release
    fid = log.function_release(release, task_name)
    req.function_release = log.function_release(log.latest() or release, task_name)
    if fid is None:
        req.diagnostics.append(Diagnostic(
            "E711", f"{unit_kind(task)} `{task_name}` is not part of release {release['id']}",
            task.span, f"pick a release that has the {unit_kind(task)} (`flowc releases FILE`)"))
        return req
    for key, dep in sorted(log.deployments().items()):
        info = (dep.get("versions") or {}).get(task_name, {}).get(fid)
        if info and info.get("version"):
            req.changes.append(Change(key, dep.get("label") or key, info["version"]))
    if not req.changes:
        req.diagnostics.append(Diagnostic(
            "E711", f"release {release['id']}'s version of {unit_kind(task)} `{task_name}` is "
            "not known: "
            "it was never deployed where flowc could see it", task.span,
            "flowc learns versions from Terraform state after `flowc up` (or `terraform "
            "apply` in the compiled aws directory); `flowc releases FILE` lists them"))
    return req


def pin(log: ReleaseLog, req: Request, now: datetime | None = None) -> None:
    """Record the pins and rewrite each deployment's compiled alias (see module doc)."""
    from flowc.targets.aws.release import pin_alias

    assert req.release is not None and req.function_release is not None
    for change in req.changes:
        log.pin(change.key, req.task, req.release["id"], change.version,
                req.function_release, now)
        path = Path(change.key) / TF_FILE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc, change.before = pin_alias(doc, req.stem or req.task, change.version)
        except (OSError, ValueError, KeyError):
            change.compiled = False
            continue
        data = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        change.written = write_if_changed(path, data)


def resolve_service(app: App, log: ReleaseLog, name: str) -> Request:
    """Where the colour out of traffic can take it back (see module doc)."""
    req = Request(name)
    service = next(s for s in app.services if s.name == name)
    if not (service.runs_on("aws") and has_colours(service)):
        req.diagnostics.append(Diagnostic(
            "E712", f"service `{name}` has no second colour to roll back to (only image "
            "services with a port, released blue_green or canary on aws, have two)",
            service.span, "set `release { strategy = blue_green }` on the service, or roll "
            "back by compiling and applying the earlier spec (a rolling deployment)"))
        return req
    for key, dep in sorted(log.deployments().items()):
        colours = ((dep.get("services") or {}).get(name) or {}).get("colours") or {}
        weights = {c: int((colours.get(c) or {}).get("weight") or 0) for c in COLOURS}
        definitions = {c: (colours.get(c) or {}).get("definition") for c in COLOURS}
        live = live_colour(weights)
        back = other(live)
        if weights[back] == 0 and definitions[back] and definitions[back] != definitions[live]:
            req.changes.append(Change(key, dep.get("label") or key, back, before=live))
        elif weights[back] > 0 and definitions[back] != definitions[live]:  # a canary runs
            req.changes.append(Change(key, dep.get("label") or key, live, before=back))
    if not req.changes:
        req.diagnostics.append(Diagnostic(
            "E711", f"service `{name}` has nothing to roll back to: flowc has seen no "
            "deployment where its two colours run different task definitions", service.span,
            "a release puts the new task definition on the colour out of traffic; flowc "
            "reads the colours from the local Terraform state after `flowc up` (or "
            "`terraform apply` in the compiled aws directory): `flowc releases FILE`"))
    return req


def pin_service(log: ReleaseLog, req: Request, now: datetime | None = None) -> None:
    """Record the pins and rewrite each deployment's compiled traffic rule."""
    from flowc.targets.aws.services import pin_weights

    for change in req.changes:
        colours = log.deployment(change.key)["services"][req.task]["colours"]
        rolled_from = colours[other(change.version)]["definition"]
        log.pin_colour(change.key, req.task, change.version, rolled_from, now)
        path = Path(change.key) / TF_FILE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc, change.before = pin_weights(doc, req.task, change.version)
        except (OSError, ValueError, KeyError, IndexError):
            change.compiled = False
            continue
        data = (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        change.written = write_if_changed(path, data)


__all__ = ["Change", "Request", "normalise_id", "pin", "pin_service", "resolve",
           "resolve_service"]
