"""The target registry: the only place that lists flowc's back ends.

A target is one package, `flowc/targets/<name>/`, whose `__init__.py` declares a
`flowc.targets.registry.Target` as `TARGET`; the line below registers it. The order is
the canonical one (output, `targets = [...]` normalisation, cost tables).
"""

from __future__ import annotations

from flowc.targets import aws, gcp, k8s
from flowc.targets.registry import (
    BackendKind,
    RuntimeLimits,
    Target,
    all_targets,
    backend_kinds,
    get,
    names,
    register,
    unregister,
)

for _package in (aws, gcp, k8s):  # to add a target: import its package and list it here
    register(_package.TARGET)

__all__ = ["BackendKind", "RuntimeLimits", "Target", "all_targets", "backend_kinds", "get",
           "names", "register", "unregister"]
