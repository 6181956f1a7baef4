"""Code versions of the emulator's tasks, and the canary between the last two.

Every distinct content of a task's code (its code directory, as the Lambda zip would
hold it, plus its requirements texts; for image tasks the image and command) is a
version, numbered 1, 2, ... per task and remembered in `<state>/versions/<stack>.json`,
so a restart of `flowc dev` after an edit continues the numbering.

A task without `canary` always runs its newest version from its code directory (hot
reload as before). With `release { canary = P% for = D }`, each version's files are
copied to `<state>/versions/code/<hash>/` when it is first seen, and when a new version
appears (at start, or on a reload) while an older one is known, the canary starts: for
D of virtual time each fire runs the new version with probability P/100, else the
previous (stable) one from its copy; then the new version is promoted. A newer version
during a canary replaces the canary version; the stable one stays.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App, PythonHandler, Task
from flowc.releases.hashing import code_hash, shipped_files

DIR = "versions"
CODE_DIR = "code"


@dataclass(frozen=True)
class Choice:
    """Which version a run uses; code_dir None means the task's own code directory."""

    version: int
    code_dir: Path | None = None
    canary: bool = False  # the run is the canary's share


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class Versions:
    """Thread-safe: `update` runs on start and reloads, `choose` on every fire."""

    def __init__(self, state_dir: str | Path, stack: str, rng: random.Random | None = None):
        self.root = Path(state_dir) / DIR
        self.path = self.root / f"{stack}.json"
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._tasks: dict[str, dict[str, Any]] = {}
        self._settings: dict[str, tuple[float | None, int | None]] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._tasks = data.get("tasks", {}) if isinstance(data, dict) else {}
        except (OSError, ValueError):
            self._tasks = {}

    # -- registering versions -------------------------------------------------------------

    def update(self, app: App, now: datetime, exclude: list[Path] | None = None) -> list[str]:
        """Register each task's current code; returns messages about new versions."""
        messages: list[str] = []
        exclude = [self.root.parent, *(exclude or [])]
        hashes: dict[tuple, str] = {}
        with self._lock:
            for task in app.tasks:
                self._settings[task.name] = (task.release.canary_percent,
                                             task.release.canary_for_s)
                key = (task.code_dir, task.requirements, task.layers, repr(task.handler))
                if key not in hashes:
                    hashes[key] = code_hash(app, task, exclude)
                msg = self._update_task(app, task, hashes[key], now, exclude)
                if msg:
                    messages.append(msg)
            self._save()
        return messages

    def _update_task(self, app: App, task: Task, digest: str, now: datetime,
                     exclude: list[Path]) -> str:
        state = self._tasks.setdefault(task.name, {"versions": [], "current": None})
        known = {v["hash"]: v["version"] for v in state["versions"]}
        canary = task.release.canary_percent is not None and isinstance(task.handler,
                                                                        PythonHandler)
        if canary:
            self._snapshot(app, task, digest, exclude)
        if digest in known and known[digest] == state["current"]:
            return ""
        if digest in known:
            number = known[digest]
        else:
            number = len(state["versions"]) + 1
            state["versions"].append({"version": number, "hash": digest, "seen": _iso(now)})
        previous = state["current"]
        state["current"] = number
        stable = state.get("stable") or previous
        has_copy = stable is not None and self._copy_of(state, stable) is not None
        if canary and stable is not None and stable != number and has_copy:
            state["stable"] = stable
            state["until"] = _iso(now + timedelta(seconds=task.release.canary_for_s or 0))
            return (f"task `{task.name}`: version {number}; canary "
                    f"{task.release.canary_percent:g}% against version {stable} until "
                    f"{state['until']} (virtual time)")
        state.pop("stable", None)
        state.pop("until", None)
        return f"task `{task.name}`: version {number}" if previous else ""

    def _snapshot(self, app: App, task: Task, digest: str, exclude: list[Path]) -> None:
        target = self.root / CODE_DIR / digest[:16]
        if (target / ".complete").exists():
            return
        files = shipped_files(app.base_path / task.code_dir, exclude)
        if not files:
            return
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        for name, data in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (tmp / ".complete").parent.mkdir(parents=True, exist_ok=True)
        (tmp / ".complete").write_text("ok\n")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)

    def _copy_of(self, state: dict[str, Any], number: int) -> Path | None:
        for v in state["versions"]:
            if v["version"] == number:
                path = self.root / CODE_DIR / v["hash"][:16]
                return path if (path / ".complete").exists() else None
        return None

    def _save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        # One line: json's indenting encoder is pure Python (a second of a 10,000-task start).
        tmp.write_text(json.dumps({"tasks": self._tasks}, sort_keys=True) + "\n",
                       encoding="utf-8")
        os.replace(tmp, self.path)

    # -- choosing a version per fire ------------------------------------------------------

    def choose(self, task: Task, now: datetime) -> Choice | None:
        """The version this fire runs (None when the task was never registered)."""
        with self._lock:
            state = self._tasks.get(task.name)
            if not state or state.get("current") is None:
                return None
            current = state["current"]
            stable, until = state.get("stable"), state.get("until")
            percent = self._settings.get(task.name, (None, None))[0]
            if stable is None or until is None or percent is None:
                return Choice(current)
            if now >= datetime.fromisoformat(until):
                state.pop("stable", None)  # the canary ran its course: promoted
                state.pop("until", None)
                self._save()
                return Choice(current)
            if self.rng.random() < percent / 100.0:
                return Choice(current, self._copy_of(state, current), canary=True)
            copy = self._copy_of(state, stable)
            return Choice(stable, copy) if copy is not None else Choice(current)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._tasks))
