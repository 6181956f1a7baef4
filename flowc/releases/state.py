"""What a Terraform working directory has deployed, read from its local state file.

`deployed(workdir)` reads `workdir/terraform.tfstate` (the local backend: `flowc up`
stacks, and `DIR/aws` of `flowc compile` unless the environment declares a remote
backend) and returns, per task, the Lambda version Terraform published, the release
that built it (the function's `flowc-release` tag), when it was deployed, and where the
task's alias points (primary version and canary weight). No Terraform run is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowc.releases.log import Deployed

STATE_FILE = "terraform.tfstate"
RELEASE_TAG = "flowc-release"
FUNCTION_SUFFIX = "_function"
ALIAS_SUFFIX = "_alias"


def _instances(state: dict[str, Any], type_: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for res in state.get("resources", []):
        if res.get("mode") == "managed" and res.get("type") == type_:
            for inst in res.get("instances", []):
                out.append((res.get("name", ""), inst.get("attributes") or {}))
    return out


def deployed(workdir: str | Path) -> dict[str, Deployed] | None:
    """Task name -> what the state shows; None when there is no readable local state."""
    try:
        state = json.loads((Path(workdir) / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    out: dict[str, Deployed] = {}
    for name, attrs in _instances(state, "aws_lambda_function"):
        if not name.endswith(FUNCTION_SUFFIX):
            continue
        task = name.removesuffix(FUNCTION_SUFFIX)
        version = attrs.get("version")
        out[task] = Deployed(
            version=str(version) if version not in (None, "", "$LATEST") else None,
            function_release=(attrs.get("tags") or {}).get(RELEASE_TAG),
            deployed_at=attrs.get("last_modified"),
        )
    for name, attrs in _instances(state, "aws_lambda_alias"):
        task = name.removesuffix(ALIAS_SUFFIX)
        if task not in out or not name.endswith(ALIAS_SUFFIX):
            continue
        out[task].alias_version = attrs.get("function_version") or None
        for routing in attrs.get("routing_config") or []:
            for version, weight in (routing.get("additional_version_weights") or {}).items():
                out[task].canary = {"version": str(version), "weight": weight}
    return out
