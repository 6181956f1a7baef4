"""Subnets in the local cloud: an environment's `aws { subnets = [...] }` names subnets of a
real account, which the local cloud does not have, so an image service's load balancer,
its subnet and VPC lookups and its ECS services could not be created there.

`local_subnets` maps each subnet the compiled output names that the local cloud lacks to
one of the cloud's default subnets (one per zone, in zone order, so two subnets land in
two zones as on AWS); `substitutions` gives, per resource and data source, the top-level
arguments holding such an ID rewritten with the mapping. The override file carries them
(overrides.py), so what `flowc compile` writes is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

SUBNET_ID = re.compile(r"subnet-[0-9A-Za-z]+")


def named_subnets(doc: dict[str, Any]) -> list[str]:
    """Subnet IDs written literally in the document's resources and data sources."""
    found: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, str) and SUBNET_ID.fullmatch(value):
            found.setdefault(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for block in ("resource", "data"):
        walk(doc.get(block) or {})
    return list(found)


def local_subnets(doc: dict[str, Any], ec2: Callable[[], Any]) -> dict[str, str]:
    """Subnet named in `doc` but unknown to the local cloud -> a default subnet of that
    cloud ({} when every named subnet exists, or the cloud has no default subnet). `ec2`
    makes a boto3 EC2 client for the cloud (only called when `doc` names a subnet)."""
    wanted = named_subnets(doc)
    if not wanted:
        return {}
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        subnets = ec2().describe_subnets()["Subnets"]
    except (BotoCoreError, ClientError):  # no EC2 there: Terraform will say what fails
        return {}
    known = {s["SubnetId"] for s in subnets}
    defaults = sorted((s for s in subnets if s.get("DefaultForAz")),
                      key=lambda s: s.get("AvailabilityZone", ""))
    missing = [s for s in wanted if s not in known]
    if not defaults:
        return {}
    return {s: defaults[i % len(defaults)]["SubnetId"] for i, s in enumerate(missing)}


def _replaced(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, dict):
        return {k: _replaced(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, mapping) for v in value]
    return value


def substitutions(doc: dict[str, Any], mapping: dict[str, str]
                  ) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """block ("resource"/"data") -> type -> name -> {argument: value with the mapping
    applied}, for each top-level argument that names a mapped subnet (an override replaces
    a whole argument, or every nested block of that type)."""
    out: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    if not mapping:
        return out
    for block in ("resource", "data"):
        for type_, bodies in (doc.get(block) or {}).items():
            for name, body in bodies.items():
                changed = {arg: new for arg, value in body.items()
                           if arg not in ("//", "lifecycle", "depends_on")
                           and (new := _replaced(value, mapping)) != value}
                if changed:
                    out.setdefault(block, {}).setdefault(type_, {})[name] = changed
    return out
