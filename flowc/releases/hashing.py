"""The hashes a release is made of: the spec, each task's code, each task's function.

- `spec_hash(app)`: the checked IR without paths, spans and release-log fields, so
  reformatting the file or adding a comment is not a release, but any setting is.
- `code_hash(app, task)`: the files a python task ships (its imported modules and
  `include`, `targets.task_code.task_files`) plus the text of its requirements and its layers'
  requirements; an image task's image and command. Target-independent and cheap: no pip.
- `function_hash(task, code)`: what goes into one deployed version of the task: its code,
  name, handler and every setting declared `deploys` in flowc.compiler.settings (memory,
  timeout, cpu, env, description, layers...). A schedule or alert change is a new
  release but not a new function version.
- `service_hash(app, service)`: a service's checked IR (no span) and its code, as
  `code_hash` reads it: any change of a service is a release that names it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flowc import __version__
from flowc.compiler.ir import App, ImageHandler, Service, Task, to_json
from flowc.compiler.settings import TASK_SETTINGS, Setting
from flowc.targets.packaging import PackagingError, collect_code
from flowc.targets.task_code import task_files

_DROPPED_APP_FIELDS = ("source", "base_dir")


def _digest(data: Any) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _strip(value: Any) -> Any:
    """IR JSON without spans."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "span":
                continue
            out[key] = _strip(item)
        return out
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def spec_hash(app: App) -> str:
    data = _strip(to_json(app))
    for key in _DROPPED_APP_FIELDS:
        data.pop(key, None)
    return _digest(data)


def shipped_files(root: Path, exclude: Iterable[Path] = ()) -> dict[str, bytes]:
    """`collect_code(root)` without the excluded directories and files ({} if missing)."""
    try:
        return collect_code(root, exclude=exclude)
    except PackagingError:
        return {}


def code_hash(app: App, task: Task | Service, exclude: Iterable[Path] = ()) -> str:
    """sha256 of the task's shipped files and requirements texts (see module doc)."""
    if isinstance(task.handler, ImageHandler):
        return _digest(["image", task.handler.image, list(task.handler.command)])
    h = hashlib.sha256()
    files = task_files(task, shipped_files(app.base_path / task.code_dir, exclude))
    for name in sorted(files):
        h.update(b"file\0" + name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    layers = {layer.name: layer.requirements for layer in app.layers}
    reqs = [("layer:" + n, layers[n]) for n in task.layers if n in layers]
    if task.requirements:
        reqs.append(("requirements", task.requirements))
    for label, rel in reqs:
        try:
            text = (app.base_path / rel).read_bytes()
        except OSError:
            text = b"<missing>"
        h.update(label.encode() + b"\0" + hashlib.sha256(text).digest())
    return h.hexdigest()


# ir.Task fields that are not settings (settings say it themselves: `Setting.deploys`)
# and are not part of one deployed function version. Every other field is hashed, and
# tests/test_settings.py fails when a field is in neither this list nor the table.
NOT_IN_FUNCTION: dict[str, str] = {
    "schedules": "when the task runs: the scheduler's configuration, not the function's",
    "target_schedules": "derived from `schedules`",
    "alerts": "alarms watch the function; they are not part of it",
    "code_dir": "the code itself is hashed (`code`)",
    "span": "where the task is written",
    "release": "how a version goes live, not what it is",
    "windows": "when the schedules fire (`from`/`until`): the scheduler's configuration",
}
# Task fields hashed besides the settings that deploy.
FUNCTION_STRUCTURE = ("name", "handler")


def function_fields() -> dict[str, Setting | None]:
    """ir.Task field -> its setting (None for FUNCTION_STRUCTURE): what function_hash reads.

    Every field but NOT_IN_FUNCTION and the settings declared `deploys=False`."""
    by_field = {setting.ir_field: setting for setting in TASK_SETTINGS}
    out: dict[str, Setting | None] = {}
    for f in dataclasses.fields(Task):
        setting = by_field.get(f.name)
        if f.name in NOT_IN_FUNCTION or (setting is not None and not setting.deploys):
            continue
        out[f.name] = setting
    return out


def function_hash(task: Task, code: str) -> str:
    """What one version of the deployed function is made of (see module doc)."""
    data: dict[str, Any] = {"flowc": __version__, "code": code}
    for name, setting in function_fields().items():
        value = getattr(task, name)
        if setting is not None and setting.hash_form is not None:
            data[setting.key] = setting.hash_form(value)
        else:
            data[setting.key if setting else name] = _strip(to_json(value))
    return _digest(data)


def service_hash(app: App, service: Service, exclude: Iterable[Path] = ()) -> str:
    """A service's settings and code (see module doc)."""
    return _digest([_strip(to_json(service)), code_hash(app, service, exclude)])
