"""Cloud Run sizes and what GCP can honour of a service (the target's `service_limits`).

Sources (checked 2026-11): Cloud Run services (cpu 1-8 without request-based limits
below 1, memory up to 32 GiB, scaling on concurrency and CPU with a fixed target); Cloud
Run worker pools (manual instance count).
"""

from __future__ import annotations

from flowc.targets.service_fit import ServiceFit

CLOUD_RUN_CPU = (1.0, 8.0)  # a service: below 1 vCPU only with concurrency 1 (not flowc's)
CLOUD_RUN_MAX_MEMORY = 32768  # MiB


def service_cpu(cpu: float) -> float:
    """The vCPU Cloud Run gives a service asking for `cpu` (flowc.targets.gcp.services)."""
    return max(CLOUD_RUN_CPU[0], cpu)


def check_service(fit: ServiceFit) -> None:
    service, own = fit.service, fit.own
    if not service.is_worker and not fit.python and "cpu" in own and not (
            CLOUD_RUN_CPU[0] <= service.cpu <= CLOUD_RUN_CPU[1]):
        fit.warn("gcp", "cpu", f"Cloud Run gets cpu {_clamp(service.cpu, CLOUD_RUN_CPU):g}, "
                 f"not {service.cpu:g} (it allows {CLOUD_RUN_CPU[0]:g}..{CLOUD_RUN_CPU[1]:g} "
                 "here)", "set `cpu` between 1 and 8")
    if service.memory_mib > CLOUD_RUN_MAX_MEMORY:
        fit.error("gcp", "memory", f"Cloud Run allows at most {CLOUD_RUN_MAX_MEMORY}MB",
                  f"lower `memory`, or {fit.without('gcp')}")
    if fit.python and service.is_worker:
        fit.error("gcp", "python", "a python service is a Cloud Function with an HTTP "
                  "trigger, which cannot run a long-lived worker",
                  f"use an `image` worker (a Cloud Run worker pool), or {fit.without('gcp')}")
    if "scale_on" in own:
        fit.warn("gcp", "scale_on", "Cloud Run scales on concurrent requests and CPU at its "
                 "own target; `scale_on` is not applied",
                 "nothing to do if that is fine; `replicas` still bounds the instances")
    if service.is_worker and service.scaling.autoscaled:
        fit.warn("gcp", "replicas", "a Cloud Run worker pool has a fixed instance count; it "
                 f"runs {service.scaling.min_replicas}", "set a fixed `replicas`")
    if service.release.strategy != "rolling":
        fit.warn("gcp", "release", f"`{service.release.strategy}` is not applied: each "
                 "deploy sends all traffic to the new revision once it is ready",
                 "roll back with `flowc rollback`, or use `strategy = rolling`")


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return max(bounds[0], min(bounds[1], value))
