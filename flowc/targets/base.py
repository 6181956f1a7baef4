"""What every target shares: the Stack model a target fills, tags, and code assets.

A target's builder subclasses `Builder` and fills a `Stack` with plain data:

    class AwsBuilder(Builder):
        name = "aws"
        def check(self, app): return [...]            # diagnostics that need no synthesis
        def build(self, app, stack):
            stack.provider("aws", "hashicorp/aws", "~> 5.100", {"region": "us-east-1"})
            q = stack.resource("aws_sqs_queue", "daily_report_dlq", {"name": ...})
            stack.output("daily_report_dlq_url", q.ref("url"))

flowc.targets.compile turns stacks into files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from flowc.compiler.ir import App, Backend, Service, Task, unit_kind
from flowc.diagnostics import Diagnostic, Span
from flowc.targets.naming import Namer, logical_id
from flowc.targets.packaging import (
    Asset,
    PackagingError,
    collect_code,
    make_asset,
    vendor_requirements,
)
from flowc.targets.task_code import task_files

ASSET_DIR = "assets"


def escape_literal(text: str) -> str:
    """A user string as a Terraform JSON literal: `${` and `%{` are not interpolated."""
    return text.replace("${", "$${").replace("%{", "%%{")


def standard_tags(app: App, task: Task | None = None) -> dict[str, str]:
    """`app`, `environment`, `managed-by`, `task`: valid as AWS tags, GCP and k8s labels."""
    tags = {
        "app": app.name[:63],
        "environment": (app.environment or "default")[:63],
        "managed-by": "flowc",
    }
    if task is not None:
        tags["task"] = task.name[:63]
    return tags


@dataclass(frozen=True)
class Resource:
    """A resource (or data source) in a Stack; `ref("arn")` is a Terraform reference."""

    type: str
    id: str
    data: bool = False

    @property
    def address(self) -> str:
        return f"{'data.' if self.data else ''}{self.type}.{self.id}"

    def ref(self, attr: str = "id") -> str:
        return f"${{{self.address}.{attr}}}"


@dataclass(frozen=True)
class TaskRelease:
    """Where a task's alias points in this deployment, as the release log decided it
    (flowc.releases.plan); the IR's `ir.Release` is what the user asked for.

    release_id: the release that last changed the task's function; stable_version: the
    version the alias keeps while a canary runs (None: it follows the latest version);
    pinned_version: `flowc rollback` pinned the alias to this version (wins over the rest).
    """

    release_id: str | None = None
    stable_version: str | None = None
    pinned_version: str | None = None


NO_RELEASE = TaskRelease()


@dataclass
class Stack:
    """Everything one target emits, as plain JSON-able data (no cdktf objects)."""

    target: str
    app: App
    out_dir: Path  # DIR/<target>
    exclude: tuple[Path, ...] = ()  # never shipped: DIR itself, the state directory...
    # by task name, and by name of a service with two colours (flowc.releases.plan)
    releases: Mapping[str, Any] = field(default_factory=dict)
    names: Namer = field(init=False)
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data_sources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    backend: Backend | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> bytes
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _assets: dict[tuple, Asset] = field(default_factory=dict)
    _ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.names = Namer(self.app)

    @property
    def stack_id(self) -> str:
        return f"{self.app.stack_name}-{self.target}"

    def release_of(self, task: Task | Service) -> TaskRelease:
        """Where the release plan puts the alias of a task or python service."""
        return self.releases.get(task.name, NO_RELEASE)

    def history_of(self, service: Service) -> Any:
        """The release log's `flowc.releases.colours.ServiceHistory` of a two-colour
        service in this deployment; None when compiled without a release log."""
        return self.releases.get(service.name)

    def provider(
        self, name: str, source: str, version: str, attrs: dict[str, Any] | None = None
    ) -> None:
        """Declare provider `name` (e.g. "aws", "hashicorp/aws", "~> 5.100") and its config."""
        self.providers[name] = {"source": source, "version": version, "attrs": attrs or {}}

    def _claim(self, id_: str) -> str:
        """Construct ids are unique per stack across resources, data sources and outputs."""
        id_ = logical_id(id_)
        if id_ in self._ids or id_ in self.providers or id_ == "backend":
            raise ValueError(f"duplicate id {id_!r} in stack {self.stack_id}")
        self._ids.add(id_)
        return id_

    def resource(self, type_: str, id_: str, attrs: dict[str, Any]) -> Resource:
        """Add a resource; `attrs` is its Terraform JSON body (meta-arguments allowed).

        `id_` must be unique in the stack across types (e.g. `daily_report_function`,
        `daily_report_role`): it is the cdktf construct id and the Terraform name.
        """
        id_ = self._claim(id_)
        self.resources.setdefault(type_, {})[id_] = attrs
        return Resource(type_, id_)

    def data(self, type_: str, id_: str, attrs: dict[str, Any]) -> Resource:
        id_ = self._claim(id_)
        self.data_sources.setdefault(type_, {})[id_] = attrs
        return Resource(type_, id_, data=True)

    def output(
        self, id_: str, value: Any, description: str | None = None, sensitive: bool = False
    ) -> None:
        out: dict[str, Any] = {"value": value}
        if description:
            out["description"] = description
        if sensitive:
            out["sensitive"] = True
        self.outputs[self._claim(id_)] = out

    def add_file(self, relpath: str, data: bytes) -> str:
        """Write `data` to `<target>/<relpath>` with the Terraform file; returns relpath."""
        self.files[relpath] = data
        return relpath

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help))

    def code_asset(
        self,
        task: Task,
        extra: dict[str, bytes] | None = None,
        pip_args: Sequence[str] = (),
        vendor: bool = True,
        code: str = "E400",
        layers: bool = True,
        vendor_extra: Sequence[Path] = (),
    ) -> Asset | None:
        """The zip of the task's code (the files of its code dir it ships, task_code.py) and
        `extra` files, with the task's requirements
        and its layers' requirements installed into it when `vendor` (AWS Lambda, until
        layers become Lambda layers); with vendor=False the
        requirements file travels as a plain file (builders like Cloud Functions
        install it themselves).

        With layers=False the layers' requirements stay out of the zip (the AWS target
        ships them as Lambda layers).

        `vendor_extra`: requirements files of flowc's own (e.g. a service's HTTP adapter),
        installed into the zip before the task's. Tasks with the same code, requirements
        and extras share one asset. On failure reports diagnostic `code` on the task and
        returns None.
        """
        extra = extra or {}
        requirements = task.requirements if vendor else None
        layer_reqs = (tuple(self.app.layer(n).requirements for n in task.layers)
                      if vendor and layers else ())
        shipped = (getattr(task.handler, "module", None), getattr(task, "include", ()))
        key = (task.code_dir, shipped, requirements, layer_reqs, tuple(sorted(extra.items())),
               tuple(pip_args), tuple(str(p) for p in vendor_extra))
        if key in self._assets:
            return self._assets[key]
        try:
            files: dict[str, bytes] = {}
            for path in vendor_extra:
                files.update(vendor_requirements(path, pip_args))
            for req in layer_reqs:  # the layers' dependencies first; the task's own win
                files.update(vendor_requirements(self.app.base_path / req, pip_args))
            if requirements:  # then the code, which wins on a name clash
                files.update(vendor_requirements(self.app.base_path / requirements, pip_args))
            files.update(task_files(task, collect_code(self.app.base_path / task.code_dir,
                                                       exclude=self.shipped_exclude)))
            if not vendor and task.requirements:
                req = self.app.base_path / task.requirements
                files.setdefault("requirements.txt", req.read_bytes())
        except (PackagingError, OSError) as exc:
            self.error(
                code, f"cannot package the code of {unit_kind(task)} `{task.name}`: {exc}",
                task.span,
                "check `requirements` and that the code directory exists next to the .flow file",
            )
            return None
        files.update(extra)
        stem = logical_id(task.code_dir.strip("./") or "code").replace("_", "-")
        asset = make_asset(stem, files, ASSET_DIR)
        self._assets[key] = asset
        self.add_file(asset.filename, asset.data)
        return asset

    @property
    def shipped_exclude(self) -> tuple[Path, ...]:
        """Paths no code archive of this stack may take files from (DIR at least)."""
        return (self.out_dir.parent, *self.exclude)

    def model(self) -> dict[str, Any]:
        """The whole stack as canonical data (what the fingerprint hashes)."""
        return {
            "stack": self.stack_id,
            "providers": self.providers,
            "resource": self.resources,
            "data": self.data_sources,
            "output": self.outputs,
            "backend": [self.backend.kind, self.backend.as_dict()] if self.backend else None,
            "files": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(self.files.items())},
        }


class Builder:
    """How one back end turns the IR into a Stack; see the module doc. A target's
    declaration (flowc.targets.registry.Target) names its builder."""

    name: ClassVar[str] = ""

    def check(self, app: App) -> list[Diagnostic]:
        """Diagnostics found from the IR alone (no cdktf); `flowc check` may call it."""
        return []

    def build(self, app: App, stack: Stack) -> None:
        raise NotImplementedError
