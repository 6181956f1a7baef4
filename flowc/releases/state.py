"""What a Terraform working directory has deployed, read from its local state file.

`deployed(workdir)` reads `workdir/terraform.tfstate` (the local backend: `flowc up`
stacks, and `DIR/aws` of `flowc compile` unless the environment declares a remote
backend) and returns, per task, the Lambda version Terraform published, the release
that built it (the function's `flowc-release` tag), when it was deployed, and where the
task's alias points (primary version and canary weight). No Terraform run is needed.
Python services (Lambda functions with an alias too) are in it by service name.

`deployed_services(workdir)` reads the same file for services with two colours
(flowc/releases/colours.py): per colour the `flowc-definition` tag of its task
definition, its image and desired count, and the listener rule's weight for its target
group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowc.releases.colours import COLOURS, DEFINITION_TAG
from flowc.releases.log import Deployed, DeployedService

STATE_FILE = "terraform.tfstate"
RELEASE_TAG = "flowc-release"
SERVICE_TAG = "service"  # flowc.targets.aws.services.service_tags
FUNCTION_SUFFIX = "_function"
ALIAS_SUFFIX = "_alias"
TRAFFIC_SUFFIX = "_traffic"  # aws_lb_listener_rule.svc_<service>_traffic (targets/aws)


def _instances(state: dict[str, Any], type_: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for res in state.get("resources", []):
        if res.get("mode") == "managed" and res.get("type") == type_:
            for inst in res.get("instances", []):
                out.append((res.get("name", ""), inst.get("attributes") or {}))
    return out


def _state(workdir: str | Path) -> dict[str, Any] | None:
    try:
        state = json.loads((Path(workdir) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def deployed(workdir: str | Path) -> dict[str, Deployed] | None:
    """Task name -> what the state shows; None when there is no readable local state."""
    state = _state(workdir)
    if state is None:
        return None
    out: dict[str, Deployed] = {}
    names: dict[str, str] = {}  # resource stem -> task or service name
    for name, attrs in _instances(state, "aws_lambda_function"):
        if not name.endswith(FUNCTION_SUFFIX):
            continue
        stem = name.removesuffix(FUNCTION_SUFFIX)
        # a python service's function is `svc_<name>_function`, tagged with its name
        task = names[stem] = (attrs.get("tags") or {}).get(SERVICE_TAG) or stem
        version = attrs.get("version")
        out[task] = Deployed(
            version=str(version) if version not in (None, "", "$LATEST") else None,
            function_release=(attrs.get("tags") or {}).get(RELEASE_TAG),
            deployed_at=attrs.get("last_modified"),
        )
    for name, attrs in _instances(state, "aws_lambda_alias"):
        task = names.get(name.removesuffix(ALIAS_SUFFIX))
        if task not in out or not name.endswith(ALIAS_SUFFIX):
            continue
        out[task].alias_version = attrs.get("function_version") or None
        for routing in attrs.get("routing_config") or []:
            for version, weight in (routing.get("additional_version_weights") or {}).items():
                out[task].canary = {"version": str(version), "weight": weight}
    return out


def deployed_services(workdir: str | Path) -> dict[str, DeployedService] | None:
    """Service name -> its colours as the state shows them; None without a local state."""
    state = _state(workdir)
    if state is None:
        return None
    definitions = dict(_instances(state, "aws_ecs_task_definition"))
    services = dict(_instances(state, "aws_ecs_service"))
    groups = {attrs.get("arn"): name for name, attrs in _instances(state, "aws_lb_target_group")}
    out: dict[str, DeployedService] = {}
    for name, rule in _instances(state, "aws_lb_listener_rule"):
        if not (name.startswith("svc_") and name.endswith(TRAFFIC_SUFFIX)):
            continue
        service = name.removeprefix("svc_").removesuffix(TRAFFIC_SUFFIX)
        seen = DeployedService()
        for action in rule.get("action") or []:
            for forward in action.get("forward") or []:
                for group in forward.get("target_group") or []:
                    colour = groups.get(group.get("arn"), "").rpartition("_")[2]
                    if colour in COLOURS:
                        seen.weights[colour] = int(group.get("weight") or 0)
        for colour in COLOURS:
            definition = definitions.get(f"svc_{service}_task_{colour}") or {}
            tag = (definition.get("tags") or {}).get(DEFINITION_TAG)
            if tag:
                seen.definitions[colour] = tag
                seen.images[colour] = _image(definition.get("container_definitions"))
            count = (services.get(f"svc_{service}_{colour}") or {}).get("desired_count")
            if count is not None:
                seen.counts[colour] = int(count)
        out[service] = seen
    return out


def _image(container_definitions: Any) -> str | None:
    try:
        return json.loads(container_definitions)[0].get("image")
    except (TypeError, ValueError, IndexError, AttributeError):
        return None
