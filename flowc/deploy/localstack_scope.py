"""What `flowc up` can apply to LocalStack, and one diagnostic for what it cannot.

LocalStack (community, offline) cannot run Lambda functions: a function never becomes
Active because its runtime is downloaded at first use; and it offers only the services
its health endpoint lists as available (ECS, for image tasks, is not among them). So
against LocalStack, `flowc up` applies every resource except those and the resources
that reference them (schedules invoking a function, its alias, its alarms...), with
Terraform's `-target`, and reports the rest in one warning (W603) naming the tasks.
The embedded moto server applies everything; it stays the fallback.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterable
from typing import Any

from flowc.compiler.ir import App
from flowc.deploy.overrides import service_for
from flowc.diagnostics import Diagnostic
from flowc.targets.owners import owner

NEVER_ACTIVE = {"aws_lambda_function": "Lambda functions cannot become Active offline"}
UP_STATES = ("available", "running")
_REFERENCE = re.compile(r"\$\{[^}]*?\b((?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)")


def scope(app: App, doc: dict[str, Any], endpoint: str) -> tuple[list[str] | None,
                                                                   Diagnostic | None]:
    """(the `-target`s to apply, W603) for LocalStack at `endpoint`; (None, None): all."""
    reasons = unsupported(doc, offered_services(endpoint))
    if not reasons:
        return None, None
    return targets(doc, reasons), diagnostic(app, doc, reasons, endpoint)


def offered_services(endpoint: str) -> set[str] | None:
    """Services LocalStack at `endpoint` says are available, or None if it does not say."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as response:
            services = json.load(response).get("services") or {}
    except (OSError, ValueError):
        return None
    return {name for name, state in services.items() if state in UP_STATES}


def blocks(doc: dict[str, Any]) -> dict[str, Any]:
    """Terraform address -> configuration, for every resource and data source in `doc`."""
    found = {}
    for kind, prefix in (("resource", ""), ("data", "data.")):
        for type_, named in (doc.get(kind) or {}).items():
            for name, body in named.items():
                found[f"{prefix}{type_}.{name}"] = body
    return found


def references(body: Any) -> set[str]:
    """Addresses a block's configuration refers to (interpolations and depends_on)."""
    text = json.dumps(body)
    refs = set(_REFERENCE.findall(text))
    if isinstance(body, dict):
        refs.update(body.get("depends_on") or [])
    return refs


def unsupported(doc: dict[str, Any], offered: set[str] | None) -> dict[str, str]:
    """Address -> why LocalStack cannot create it (directly, or through what it needs)."""
    all_blocks = blocks(doc)
    reasons: dict[str, str] = {}
    for address in all_blocks:
        type_ = address.removeprefix("data.").split(".")[0]
        service = service_for(type_)
        if type_ in NEVER_ACTIVE:
            reasons[address] = NEVER_ACTIVE[type_]
        elif offered is not None and service and service not in offered:
            reasons[address] = f"LocalStack does not offer {service.upper()} here"
    needs = {address: references(body) for address, body in all_blocks.items()}
    grew = True
    while grew:  # anything that refers to an excluded block goes too
        grew = False
        for address, refs in needs.items():
            if address not in reasons and refs & reasons.keys():
                reasons[address] = f"needs {sorted(refs & reasons.keys())[0]}"
                grew = True
    return reasons


def targets(doc: dict[str, Any], excluded: Iterable[str]) -> list[str]:
    """The resource addresses to apply (`-target`s): all but the excluded ones."""
    skip = set(excluded)
    return sorted(a for a in blocks(doc) if not a.startswith("data.") and a not in skip)


def diagnostic(app: App, doc: dict[str, Any], reasons: dict[str, str],
               endpoint: str) -> Diagnostic:
    """W603: which tasks' and services' resources were left out, and why, in one message."""
    owners: dict[str, list[str]] = {}
    direct = sorted({r for r in reasons.values() if not r.startswith("needs ")})
    for address in reasons:
        if address.startswith("data."):
            continue
        owners.setdefault(_owner(app, doc, address), []).append(address)
    parts = [f"{owner} ({len(addresses)})" for owner, addresses in sorted(owners.items())]
    return Diagnostic(
        "W603",
        f"LocalStack at {endpoint} cannot create {sum(map(len, owners.values()))} of the "
        f"stack's resources ({'; '.join(direct)}), so they were not applied: "
        + ", ".join(parts),
        None,
        "the rest is applied; to apply everything locally, stop LocalStack or unset "
        "LOCALSTACK_HOST so `flowc up` uses the embedded emulator (docs/deploy.md)",
    )


def _owner(app: App, doc: dict[str, Any], address: str) -> str:
    who = owner(app, doc, address)
    return f"{who[0]} `{who[1]}`" if who else "shared"
