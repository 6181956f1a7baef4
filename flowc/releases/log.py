"""The local release log: `<state>/releases/<app>[-<env>].json` (state default `.flowc/`).

Written by `flowc compile` and `flowc up`, read by `flowc releases` and `flowc rollback`:

    {"format": 1, "app": "reports", "environment": "prod",
     "releases": [{"id": "r2", "time": "2026-11-25T09:00:00Z", "spec_hash": "...",
                   "tasks": {"daily": {"kind": "python", "code_hash": "...",
                                       "function_hash": "...", "function_release": "r1"}},
                   "services": {"api": {"kind": "image", "hash": "..."},
                                "status": {"kind": "python", "hash": "...",
                                           "function_release": "r2"}}}],
     "deployments": {"<terraform working dir>": {
         "label": "flowc up (local cloud)",
         "versions": {"daily": {"r1": {"version": "3", "deployed_at": "..."}}},
         "live": {"daily": {"version": "3", "canary": {"version": "4", "weight": 0.1}}},
         "pins": {"daily": {"release": "r1", "version": "3", "function_release": "r2"}},
         "services": {"api": {"colours": {"blue": {"definition": "5f0c...", "image": "...:1.4",
                                                   "count": 3, "weight": 90}, "green": {...}},
                              "canary": {"colour": "green", "definition": "...",
                                         "since": "..."}}},
         "service_pins": {"api": {"colour": "blue", "from": "<definition>", "at": "..."}}}},
     "definitions": {"api": {"5f0c...": {<aws_ecs_task_definition body>}}}}

A release is recorded only when the spec or some task's code changed. A task's
`function_release` is the release that last changed its function (code, handler,
memory, env, ...): the unit a Lambda version is published for. A python service (a Lambda
function with an alias on AWS too) has one as well: the release that last changed it
(any setting or its code); `versions`, `live` and `pins` hold tasks and python services
alike (their names are unique across both). Versions are per
deployment (a Terraform working directory: the `flowc up` stack, or `DIR/aws` of
`flowc compile`), read back from that directory's Terraform state after an apply.

Services with two colours (flowc/releases/colours.py) are kept per deployment too: what
each colour runs and its weight, when a canary split was first seen, `flowc rollback`
pins; the task definition bodies they run are kept once, by hash, under `definitions`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App
from flowc.releases.colours import COLOURS, ServiceHistory
from flowc.releases.hashing import code_hash, function_hash, service_hash, spec_hash

FORMAT = 1
LOG_DIR = "releases"
_ID = re.compile(r"^r?(\d+)$")


def log_path(state_dir: str | Path, stack_name: str) -> Path:
    return Path(state_dir) / LOG_DIR / f"{stack_name}.json"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    """ISO 8601 as flowc writes it, or as Lambda reports LastModified (`...000+0000`)."""
    if not text:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.strip())  # Lambda/moto: nanoseconds
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(text.replace("Z", "+0000"), fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def normalise_id(text: str) -> str:
    """`3`, `r3` and `R3` all name release `r3`; anything else is returned as given."""
    m = _ID.match(text.strip().lower())
    return f"r{int(m.group(1))}" if m else text.strip()


def _without_release(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "function_release"}


def functions(release: dict[str, Any]) -> dict[str, str]:
    """Name -> function release of every task and python service (the Lambda functions
    with an alias on AWS) in a release."""
    out = {name: e["function_release"] for name, e in release["tasks"].items()
           if e.get("function_release")}
    out.update({name: e["function_release"] for name, e in
                (release.get("services") or {}).items() if e.get("function_release")})
    return out


@dataclass
class Deployed:
    """One task's function as a Terraform state shows it (see flowc.releases.state)."""

    version: str | None = None
    function_release: str | None = None  # the `flowc-release` tag on the function
    deployed_at: str | None = None  # the function's last_modified
    alias_version: str | None = None  # what the alias points at (the live version)
    canary: dict[str, Any] | None = None  # {"version", "weight"} while a canary runs


@dataclass
class DeployedService:
    """A two-colour service as a Terraform state shows it (flowc.releases.state)."""

    definitions: dict[str, str] = field(default_factory=dict)  # colour -> flowc-definition
    images: dict[str, str | None] = field(default_factory=dict)  # colour -> image
    counts: dict[str, int] = field(default_factory=dict)  # colour -> desired count
    weights: dict[str, int] = field(default_factory=dict)  # colour -> listener weight


@dataclass
class ReleaseLog:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    # -- files ----------------------------------------------------------------------------

    @classmethod
    def load(cls, state_dir: str | Path, app: App) -> ReleaseLog:
        path = log_path(state_dir, app.stack_name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            data = {}
        data.setdefault("format", FORMAT)
        data.setdefault("app", app.name)
        data.setdefault("environment", app.environment)
        data.setdefault("releases", [])
        data.setdefault("deployments", {})
        data.setdefault("definitions", {})
        return cls(path, data)

    def save(self) -> bool:
        """Write the log when its bytes change; True if written."""
        text = json.dumps(self.data, indent=2, sort_keys=True) + "\n"
        try:
            if self.path.read_text(encoding="utf-8") == text:
                return False
        except OSError:
            pass
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        return True

    # -- releases -------------------------------------------------------------------------

    @property
    def releases(self) -> list[dict[str, Any]]:
        return self.data["releases"]

    def latest(self) -> dict[str, Any] | None:
        return self.releases[-1] if self.releases else None

    def find(self, release_id: str) -> dict[str, Any] | None:
        wanted = normalise_id(release_id)
        return next((r for r in self.releases if r["id"] == wanted), None)

    def function_release(self, release: dict[str, Any], name: str) -> str | None:
        """The release that last changed the function of task or python service `name`."""
        return functions(release).get(name)

    def ids(self) -> list[str]:
        return [r["id"] for r in self.releases]

    def record(self, app: App, now: datetime | None = None,
               exclude: Iterable[Path] = ()) -> tuple[dict[str, Any], bool]:
        """The release for `app` as it is now: the latest one when nothing changed,
        else a new one appended to the log (not saved). Returns (release, is_new)."""
        exclude = list(exclude)
        tasks: dict[str, dict[str, Any]] = {}
        codes: dict[tuple, str] = {}
        for task in app.tasks:
            # tasks of one code directory ship different files (their handler's imports
            # and `include`, targets/task_code.py), so the handler is part of the key
            key = (task.code_dir, task.requirements, task.layers, repr(task.handler),
                   task.include)
            if key not in codes:
                codes[key] = code_hash(app, task, exclude)
            tasks[task.name] = {"kind": task.handler.kind, "code_hash": codes[key],
                                "function_hash": function_hash(task, codes[key])}
        services = {s.name: {"kind": s.handler.kind, "hash": service_hash(app, s, exclude)}
                    for s in app.services}
        spec = spec_hash(app)
        last = self.latest()
        if last is not None and last["spec_hash"] == spec and all(
                _without_release(group.get(name, {})) == entry
                for group, now_ in ((last["tasks"], tasks),
                                    (last.get("services", {}), services))
                for name, entry in now_.items()) \
                and set(last["tasks"]) == set(tasks) \
                and set(last.get("services", {})) == set(services):
            return last, False
        new_id = f"r{len(self.releases) + 1}"
        for name, entry in tasks.items():
            before = last["tasks"].get(name) if last else None
            same = before is not None and before["function_hash"] == entry["function_hash"]
            entry["function_release"] = before["function_release"] if same else new_id
        for service in app.services:  # a python service is a function with an alias too
            if service.handler.kind == "python":
                entry = services[service.name]
                before = (last.get("services") or {}).get(service.name) if last else None
                same = before is not None and before.get("hash") == entry["hash"] \
                    and before.get("function_release")
                entry["function_release"] = before["function_release"] if same else new_id
        release = {"id": new_id, "time": iso(now or now_utc()), "spec_hash": spec,
                   "tasks": tasks}
        if services:
            release["services"] = services
        self.releases.append(release)
        return release, True

    # -- deployments ----------------------------------------------------------------------

    def deployment(self, key: str, label: str | None = None) -> dict[str, Any]:
        dep = self.data["deployments"].setdefault(key, {})
        if label:
            dep["label"] = label
        dep.setdefault("label", key)
        for part in ("versions", "live", "pins", "services", "service_pins"):
            dep.setdefault(part, {})
        return dep

    def deployments(self) -> dict[str, dict[str, Any]]:
        return self.data["deployments"]

    def sync(self, key: str, deployed: dict[str, Deployed], label: str | None = None,
             now: datetime | None = None) -> None:
        """Record what a Terraform state shows: each task's version and the live alias.

        A version's `deployed_at` is the function's last_modified, unless that is not
        later than an earlier version's (emulators keep the creation time): then now.
        """
        dep = self.deployment(key, label)
        for task, d in sorted(deployed.items()):
            if d.version and d.function_release:
                versions = dep["versions"].setdefault(task, {})
                old = versions.get(d.function_release) or {}
                if old.get("version") != d.version:
                    when = parse_time(d.deployed_at)
                    earlier = [parse_time(v.get("deployed_at")) for v in versions.values()]
                    if when is None or any(e is not None and e >= when for e in earlier):
                        when = now or now_utc()
                    versions[d.function_release] = {"version": d.version,
                                                    "deployed_at": iso(when)}
            if d.alias_version:
                live: dict[str, Any] = {"version": d.alias_version}
                if d.canary:
                    live["canary"] = d.canary
                dep["live"][task] = live
            else:
                dep["live"].pop(task, None)
        for task in list(dep["live"]):
            if task not in deployed:
                dep["live"].pop(task)

    def version_of(self, key: str, task: str, function_release: str) -> dict[str, Any] | None:
        dep = self.data["deployments"].get(key) or {}
        return (dep.get("versions") or {}).get(task, {}).get(function_release)

    def release_of_version(self, key: str, task: str, version: str) -> str | None:
        dep = self.data["deployments"].get(key) or {}
        for fid, info in (dep.get("versions") or {}).get(task, {}).items():
            if info.get("version") == version:
                return fid
        return None

    def pin(self, key: str, task: str, release: str, version: str,
            function_release: str, now: datetime | None = None) -> None:
        """`flowc rollback`: the alias stays on `version` until the task's function changes."""
        self.deployment(key)["pins"][task] = {
            "release": release, "version": version, "function_release": function_release,
            "at": iso(now or now_utc())}

    # -- services with two colours -------------------------------------------------------

    def sync_services(self, key: str, seen: dict[str, DeployedService],
                      label: str | None = None, now: datetime | None = None) -> None:
        """Record what a Terraform state shows of each two-colour service: what each colour
        runs, its weight; a split (both weights > 0) keeps the time it was first seen."""
        dep = self.deployment(key, label)
        for name, svc in sorted(seen.items()):
            before = dep["services"].get(name) or {}
            colours = {c: {"definition": svc.definitions.get(c), "image": svc.images.get(c),
                           "count": svc.counts.get(c), "weight": svc.weights.get(c, 0)}
                       for c in COLOURS}
            entry: dict[str, Any] = {"colours": colours}
            if all(svc.weights.get(c, 0) > 0 for c in COLOURS):
                minor = min(COLOURS, key=lambda c: svc.weights.get(c, 0))
                canary = {"colour": minor, "definition": svc.definitions.get(minor)}
                old = before.get("canary") or {}
                same = all(old.get(k) == v for k, v in canary.items())
                canary["since"] = old["since"] if same and old.get("since") \
                    else iso(now or now_utc())
                entry["canary"] = canary
            dep["services"][name] = entry
            pin = dep["service_pins"].get(name)
            if pin is not None and pin.get("from") not in svc.definitions.values():
                del dep["service_pins"][name]  # what was rolled away from is gone
        for name in [n for n in dep["services"] if n not in seen]:
            dep["services"].pop(name)

    def definitions(self, service: str) -> dict[str, dict[str, Any]]:
        """The task definition bodies of `service` flowc emitted, by hash (shared dict)."""
        return self.data["definitions"].setdefault(service, {})

    def service_history(self, key: str, service: str, now: datetime) -> ServiceHistory:
        dep = self.deployment(key)
        entry = dep["services"].get(service)
        history = ServiceHistory(definitions=self.definitions(service), now=now,
                                 pin=dep["service_pins"].get(service))
        if entry is not None:
            colours = entry.get("colours") or {}
            deployed = {c: (colours.get(c) or {}).get("definition") for c in COLOURS}
            history.deployed = {c: d for c, d in deployed.items() if d}
            history.weights = {c: int((colours.get(c) or {}).get("weight") or 0)
                               for c in COLOURS}
            history.canary_since = parse_time((entry.get("canary") or {}).get("since"))
        return history

    def pin_colour(self, key: str, service: str, colour: str, rolled_from: str,
                   now: datetime | None = None) -> None:
        """`flowc rollback SERVICE`: `colour` takes all traffic while the spec still
        says `rolled_from` (the definition rolled away from)."""
        self.deployment(key)["service_pins"][service] = {
            "colour": colour, "from": rolled_from, "at": iso(now or now_utc())}
