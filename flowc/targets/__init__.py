"""The target registry: the only place that lists flowc's back ends.

A new target is one module with a `Target` subclass (see `flowc.targets.base`) and one
line here. Modules are imported on first use, so listing a target costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowc.targets.base import Target

# target name -> "module:Class"
TARGETS: dict[str, str] = {
    "aws": "flowc.targets.aws:AwsTarget",
    "gcp": "flowc.targets.gcp:GcpTarget",
    "k8s": "flowc.targets.k8s:K8sTarget",
}


def load_target(name: str) -> Target:
    """A fresh instance of the target registered as `name` (KeyError if unknown)."""
    module, _, cls = TARGETS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()
