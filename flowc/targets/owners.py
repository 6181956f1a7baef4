"""Which workload (task or service) or secret a generated resource belongs to, on any target.

Read from a compiled document (`{"resource": {type: {id: body}}}`, the shape of both
cdk.tf.json and `Stack.resources`), most reliable first:
1. the resource's `task` or `service` tag or label (`tags`, `labels`, `user_labels`,
   `metadata.labels`);
2. the one workload among the tagged resources it references (`${aws_iam_role.x.arn}`),
   for untaggable resources such as role policies and schedules;
3. a secret, for secret resources named `<secret>_...` or `secret_<secret>`;
4. the longest workload name that is a `_`-separated part of the id
   (`daily_report_function`, `function_daily_report`, `cron_job_digest__1`).
Anything else (a KMS key, a code bucket, a schedule group) is shared by the app.
`flowc up` blames Terraform errors with it; `flowc report` groups resources by it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flowc.compiler.ir import App
from flowc.diagnostics import Span

_REF = re.compile(r"\$\{(?:data\.)?([a-z][a-z0-9]*_[a-z0-9_]+)\.([a-z0-9_]+)")
_LABELS = ("tags", "labels", "user_labels")
KINDS = ("task", "service")  # the tag or label naming a resource's workload


def split_address(address: str) -> tuple[str, str, str] | None:
    """(block, type, name) of a resource address, without module path or index."""
    parts = re.sub(r"\[[^\]]*\]", "", address).split(".")
    while len(parts) >= 2 and parts[0] == "module":
        parts = parts[2:]
    block = "resource"
    if parts and parts[0] == "data":
        block, parts = "data", parts[1:]
    if len(parts) != 2:
        return None
    return block, parts[0], parts[1]


def _refs(value: Any) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield from _REF.findall(value)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)


def _label(body: Any) -> tuple[str, str] | None:
    """("task" | "service", name) from the body's tags or labels."""
    if not isinstance(body, dict):
        return None
    metadata = body.get("metadata")
    for labels in (*(body.get(k) for k in _LABELS),
                   metadata.get("labels") if isinstance(metadata, dict) else None):
        for kind in KINDS:
            if isinstance(labels, dict) and isinstance(labels.get(kind), str):
                return kind, labels[kind]
    return None


def _part_of(name: str, resource_id: str) -> bool:
    return re.search(rf"(?:^|_){re.escape(name)}(?:_|$)", resource_id) is not None


def owner(app: App, doc: dict[str, Any], address: str) -> tuple[str, str, Span | None] | None:
    """("task" | "service" | "secret", name, span) a resource address belongs to, or None."""
    parsed = split_address(address)
    if parsed is None:
        return None
    block, type_, name = parsed
    workloads = {("task", t.name): t.span for t in app.tasks}
    workloads.update({("service", s.name): s.span for s in app.services})
    body = doc.get(block, {}).get(type_, {}).get(name) or {}

    def tagged(b: Any) -> tuple[str, str] | None:
        found = _label(b)
        return found if found in workloads else None

    found = tagged(body)
    if found is None and "secret" in type_:
        for secret in sorted(app.secrets, key=lambda s: -len(s.name)):
            if name in (secret.name, f"secret_{secret.name}") or name.startswith(
                    secret.name + "_"):
                return "secret", secret.name, secret.span
    if found is None:
        votes = {tagged(doc.get("resource", {}).get(t, {}).get(n)) for t, n in _refs(body)}
        votes.discard(None)
        if len(votes) == 1:
            found = votes.pop()
    if found is None:
        found = next((k for k in sorted(workloads, key=lambda k: len(k[1]), reverse=True)
                      if _part_of(k[1], name)), None)
    if found is None:
        return None
    return found[0], found[1], workloads[found]
