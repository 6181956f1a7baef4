"""Turns Terraform's errors into flowc diagnostics that name the task that caused them.

A Terraform diagnostic carries the resource address (`aws_iam_role.daily_report_lambda_role`).
Its owner is found from the compiled document, most reliable first:
1. the resource's `task` tag (the AWS target tags every taggable resource of a task);
2. the one task among the tagged resources it references (`${aws_iam_role.x.arn}`), for
   untaggable resources such as role policies and schedules;
3. a secret, for `aws_secretsmanager_*` resources named `<secret>_...`;
4. the longest task name that prefixes the resource name (`<task>_...`, naming.logical_id).
Errors of a task or secret are E604 with its source span; anything else (the KMS key,
the schedule group, the provider) is E605.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flowc.compiler.ir import App
from flowc.deploy.terraform import Result
from flowc.diagnostics import Diagnostic, Span

_REF = re.compile(r"\$\{(?:data\.)?(aws_[a-z0-9_]+)\.([a-z0-9_]+)")
_SDK_NOISE = re.compile(
    r"operation error [^:]+: \w+, (?:exceeded maximum number of attempts, \d+, )?"
    r"https response error StatusCode: \d+, RequestID: [^,]*, ")
_VERBS = {"create": "creating", "update": "updating", "delete": "destroying",
          "replace": "replacing", "read": "reading"}
_HINTS = (
    (("AlreadyExists", "already exists", "ResourceExistsException", "ResourceConflict",
      "ConflictException"),
     "a resource with this name already exists in the local cloud but not in this stack's "
     "state: delete it, or run `flowc down` for the spec that created it"),
    (("connection refused", "dial tcp", "no such host", "EOF"),
     "the local cloud stopped answering; run `flowc up` again to restart it"),
    (("StatusCode: 500", "StatusCode: 501", "not yet implemented", "NotImplemented",
      "InternalFailure", "InternalError"),
     "the local cloud does not support this request; see README 'flowc up / down' for "
     "what the emulator lacks"),
)


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


def owner(app: App, doc: dict[str, Any], address: str) -> tuple[str, str, Span | None] | None:
    """("task" | "secret", name, span) that a resource address belongs to, or None."""
    parsed = split_address(address)
    if parsed is None:
        return None
    block, type_, name = parsed
    tasks = {t.name: t for t in app.tasks}
    bodies = doc.get(block, {})
    body = bodies.get(type_, {}).get(name) or {}

    def tagged(b: dict[str, Any]) -> str | None:
        tags = b.get("tags") if isinstance(b, dict) else None
        task = tags.get("task") if isinstance(tags, dict) else None
        return task if task in tasks else None

    found = tagged(body)
    if found is None and type_.startswith("aws_secretsmanager_"):
        for secret in sorted(app.secrets, key=lambda s: -len(s.name)):
            if name == secret.name or name.startswith(secret.name + "_"):
                return "secret", secret.name, secret.span
    if found is None:
        votes = {tagged(doc.get("resource", {}).get(t, {}).get(n) or {}) for t, n in _refs(body)}
        votes.discard(None)
        if len(votes) == 1:
            found = votes.pop()
    if found is None:
        for task_name in sorted(tasks, key=len, reverse=True):
            if name == task_name or name.startswith(task_name + "_"):
                found = task_name
                break
    if found is None:
        return None
    return "task", found, tasks[found].span


def shorten(message: str) -> str:
    """An AWS SDK error without the transport noise (operation, status, request id)."""
    return _SDK_NOISE.sub("", message).strip()


def hint(text: str) -> str | None:
    for needles, advice in _HINTS:
        if any(n in text for n in needles):
            return advice
    return None


def blame(app: App, doc: dict[str, Any], result: Result, workdir: str,
          destroying: bool = False) -> list[Diagnostic]:
    """One diagnostic per Terraform error of `result` (E604 task/secret, E605 other)."""
    out: list[Diagnostic] = []
    for diag in result.errors:
        summary = shorten(diag.get("summary") or "error")
        detail = shorten(diag.get("detail") or "")
        address = diag.get("address")
        action = result.failed.get(address or "") or diag.get("action") or (
            "delete" if destroying else "create")
        verb = _VERBS.get(action, action or "applying")
        help_ = hint(f"{summary} {detail}") or f"the Terraform working directory is {workdir}"
        notes = tuple(line.strip()[:300] for line in detail.splitlines() if line.strip())[:3]
        who = owner(app, doc, address) if address else None
        if who is not None:
            kind, name, span = who
            out.append(Diagnostic(
                "E604", f"terraform failed {verb} `{address}` of {kind} `{name}`: {summary}",
                span, help_, notes))
        elif address:
            out.append(Diagnostic(
                "E605", f"terraform failed {verb} `{address}` (shared by the app's tasks): "
                f"{summary}", None, help_, notes))
        else:
            out.append(Diagnostic("E605", f"terraform: {summary}", None, help_, notes))
    if not out and not result.ok:
        tail = tuple(result.text[-3:])
        out.append(Diagnostic(
            "E605", f"terraform exited with code {result.returncode}", None,
            f"the Terraform working directory is {workdir}", tail))
    return out
