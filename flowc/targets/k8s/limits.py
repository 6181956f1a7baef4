"""What Kubernetes can honour of a service (the target's `service_limits`).

Sources (checked 2026-11): Deployments update with a rolling update only, without an
add-on such as Argo Rollouts.
"""

from __future__ import annotations

from flowc.targets.service_fit import ServiceFit


def check_service(fit: ServiceFit) -> None:
    strategy = fit.service.release.strategy
    if strategy != "rolling":
        fit.warn("k8s", "release", f"`{strategy}` is not applied: a Deployment replaces pods "
                 "with a rolling update (readiness-gated)",
                 "use `strategy = rolling`, or an add-on such as Argo Rollouts")
