"""What each target can honour of a service, as diagnostics naming the target and why.

Errors (E230) where a target cannot run the service as declared; warnings (W230) where
it runs it but ignores or rounds a setting. Each target declares its own check
(`service_limits` in its registry declaration, e.g. flowc/targets/aws/limits.py);
`flowc check` and `flowc compile` both get these from the checker, so neither accepts
what the other rejects.
"""

from __future__ import annotations

from flowc.compiler.ir import Service
from flowc.diagnostics import Diagnostic
from flowc.targets import registry
from flowc.targets.service_fit import ServiceFit


def service_limits(service: Service, own: dict) -> list[Diagnostic]:
    """Diagnostics for `service` on each of its targets. `own`: its own settings by key."""
    fit = ServiceFit(service, own)
    for target in registry.all_targets():
        if target.name in service.targets and target.service_limits is not None:
            target.service_limits(fit)
    return fit.out
