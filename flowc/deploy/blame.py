"""Turns Terraform's errors into flowc diagnostics that name the task that caused them.

A Terraform diagnostic carries the resource address (`aws_iam_role.daily_report_lambda_role`);
its owner comes from the compiled document (flowc.targets.owners). Errors of a task or
secret are E604 with its source span; anything else (the KMS key, the schedule group, the
provider) is E605.
"""

from __future__ import annotations

import re
from typing import Any

from flowc.compiler.ir import App
from flowc.deploy.terraform import Result
from flowc.diagnostics import Diagnostic
from flowc.targets.owners import owner

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
     "the local cloud does not support this request; see docs/deploy.md for "
     "what the emulator lacks"),
)


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
