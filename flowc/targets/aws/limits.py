"""AWS sizes and what it can honour of a service (the target's `service_limits`).

Sources (checked 2026-11): ECS Fargate task sizes (cpu units and the memory each
allows); Lambda 128 MB-10,240 MB, CPU follows memory, scaling per request.
"""

from __future__ import annotations

from flowc.diagnostics import Diagnostic
from flowc.targets.service_fit import ServiceFit

# (vCPU units, valid memory MiB) for Fargate, smallest first.
FARGATE_SIZES: tuple[tuple[int, tuple[int, ...]], ...] = (
    (256, (512, 1024, 2048)),
    (512, tuple(range(1024, 4097, 1024))),
    (1024, tuple(range(2048, 8193, 1024))),
    (2048, tuple(range(4096, 16385, 1024))),
    (4096, tuple(range(8192, 30721, 1024))),
    (8192, tuple(range(16384, 61441, 4096))),
    (16384, tuple(range(32768, 122881, 8192))),
)
FARGATE_MEMORY_BY_VCPU: dict[float, tuple[int, ...]] = {
    units / 1024: memories for units, memories in FARGATE_SIZES}
LAMBDA_MEMORY = (128, 10240)  # MB


def check_service(fit: ServiceFit) -> None:
    service, own = fit.service, fit.own
    if not fit.python:
        sizes = FARGATE_MEMORY_BY_VCPU.get(service.cpu)
        if sizes is None:
            fit.error("aws", "cpu", f"ECS Fargate has no size with cpu {service.cpu:g}",
                      "use one of " + ", ".join(f"{c:g}" for c in FARGATE_MEMORY_BY_VCPU))
        elif service.memory_mib not in sizes:
            fit.error("aws", "memory", f"ECS Fargate with cpu {service.cpu:g} allows memory "
                      f"{sizes[0]}MB..{sizes[-1]}MB in steps of {sizes[1] - sizes[0]}MB, not "
                      f"{service.memory_mib}MB",
                      f"set `memory = {_nearest(service.memory_mib, sizes)}MB` or change `cpu`")
        return
    if service.is_worker:
        fit.error("aws", "python", "a python service runs as Lambda behind an HTTP API, "
                  "and Lambda cannot run a long-lived worker",
                  f"use an `image` worker (ECS Fargate), or {fit.without('aws')}")
    if not LAMBDA_MEMORY[0] <= service.memory_mib <= LAMBDA_MEMORY[1]:
        fit.error("aws", "memory", f"Lambda allows {LAMBDA_MEMORY[0]}MB..{LAMBDA_MEMORY[1]}MB",
                  "set `memory` in that range")
    if "scale_on" in own:
        fit.warn("aws", "scale_on", "`scale_on` is ignored: Lambda scales per request "
                 "(the upper bound of `replicas` caps its concurrency)",
                 "remove it, or use an `image` service to scale on cpu or memory")
    for alert in service.alerts:
        if alert.metric in ("unhealthy", "cpu", "memory"):
            fit.out.append(Diagnostic(
                "W230", f"service `{service.name}` on aws: no `{alert.metric}` alarm "
                "for a Lambda function (it has no replicas or utilisation to watch)",
                alert.span or service.span,
                "alert on `error_rate` or `latency_p95`, or use an `image` service"))
    if "health" in own:
        fit.warn("aws", "health", "Lambda has no health check; `health` is only used "
                 "by the other targets", "nothing to do if that is intended")


def _nearest(value: int, sizes: tuple[int, ...]) -> int:
    return min(sizes, key=lambda s: abs(s - value))
