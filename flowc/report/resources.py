"""What each target creates for an app: its resources, grouped by the workload owning them.

The stacks come from the target builders `flowc compile` runs (the target registry, the
same `check` and `build`), without synthesis or Terraform, so the counts and names are
exactly what compile would write. Ownership is flowc.targets.owners.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App
from flowc.diagnostics import Diagnostic, has_errors
from flowc.targets.owners import owner

SHARED = ""  # owner key of resources no single workload owns (keys, buckets, secrets)


def owner_key(kind: str, name: str) -> str:
    """How resources of a workload are filed: "task daily_report", "service api"."""
    return f"{kind} {name}"
_NAME_KEYS = ("name", "function_name", "family", "alarm_name", "account_id", "secret_id",
              "display_name")


@dataclass(frozen=True)
class Resource:
    type: str  # "aws_lambda_function"
    id: str  # the Terraform name, "daily_report_function"
    name: str  # what the cloud calls it, "reports-prod-daily-report" (else the id)

    @property
    def address(self) -> str:
        return f"{self.type}.{self.id}"


@dataclass
class TargetResources:
    target: str
    by_owner: dict[str, list[Resource]] = field(default_factory=dict)  # owner_key or SHARED
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def built(self) -> bool:
        return not has_errors(self.diagnostics)

    def of(self, owner_name: str) -> list[Resource]:
        return self.by_owner.get(owner_name, [])

    def counts(self, owner_name: str) -> list[tuple[str, int, list[str]]]:
        """(resource type, how many, their cloud names) for one owner, most first."""
        by_type: dict[str, list[str]] = {}
        for r in self.of(owner_name):
            by_type.setdefault(r.type, []).append(r.name)
        rows = [(t, len(names), sorted(set(names))) for t, names in by_type.items()]
        return sorted(rows, key=lambda row: (-row[1], row[0]))

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.by_owner.values())


def target_resources(app: App, target: str, out_dir: Path | None = None) -> TargetResources:
    """Build `target`'s stack for `app` as compile does and group its resources."""
    from flowc.targets import registry
    from flowc.targets.base import Stack

    builder = registry.get(target).load_builder()
    result = TargetResources(target, diagnostics=list(builder.check(app)))
    if has_errors(result.diagnostics):
        return result
    stack = Stack(target, app, (out_dir or app.base_path / "flowc.out") / target)
    builder.build(app, stack)
    result.diagnostics.extend(stack.diagnostics)
    doc = {"resource": stack.resources}
    for type_, bodies in stack.resources.items():
        for id_, body in bodies.items():
            who = owner(app, doc, f"{type_}.{id_}")
            key = owner_key(who[0], who[1]) if who and who[0] != "secret" else SHARED
            result.by_owner.setdefault(key, []).append(Resource(type_, id_, cloud_name(body, id_)))
    for resources in result.by_owner.values():
        resources.sort(key=lambda r: (r.type, r.id))
    return result


def cloud_name(body: dict[str, Any], fallback: str) -> str:
    """The name the resource gets in the cloud, when the body states it literally."""
    metadata = body.get("metadata")
    candidates = [body.get(k) for k in _NAME_KEYS]
    if isinstance(metadata, dict):
        candidates.insert(0, metadata.get("name"))
    for value in candidates:
        if isinstance(value, str) and value and "${" not in value:
            return value
    return fallback
