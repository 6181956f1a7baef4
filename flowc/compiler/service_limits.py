"""What each target can honour of a service, as diagnostics naming the target and why.

Errors (E230) where a target cannot run the service as declared; warnings (W230) where
it runs it but ignores or rounds a setting. `flowc check` and `flowc compile` both get
these from the checker, so neither accepts what the other rejects.

Sources (checked 2026-11): ECS Fargate task sizes (cpu units and the memory each
allows); Lambda 128 MB-10,240 MB, CPU follows memory, scaling per request; Cloud Run
services (cpu 1-8 without request-based limits below 1, memory up to 32 GiB, scaling on
concurrency and CPU with a fixed target); Cloud Run worker pools (manual instance count);
Kubernetes Deployments (rolling updates only without an add-on such as Argo Rollouts).
"""

from __future__ import annotations

from flowc.compiler.ir import Service
from flowc.diagnostics import Diagnostic
from flowc.grammar import syntax as s

# Fargate: vCPU -> the memory sizes (MiB) it allows.
FARGATE_SIZES: dict[float, tuple[int, ...]] = {
    0.25: (512, 1024, 2048),
    0.5: tuple(range(1024, 4097, 1024)),
    1.0: tuple(range(2048, 8193, 1024)),
    2.0: tuple(range(4096, 16385, 1024)),
    4.0: tuple(range(8192, 30721, 1024)),
    8.0: tuple(range(16384, 61441, 4096)),
    16.0: tuple(range(32768, 122881, 8192)),
}
LAMBDA_MEMORY = (128, 10240)
CLOUD_RUN_CPU = (1.0, 8.0)
CLOUD_RUN_MAX_MEMORY = 32768


def service_limits(service: Service, own: dict) -> list[Diagnostic]:
    """Diagnostics for `service` on each of its targets. `own`: its own settings by key."""
    out: list[Diagnostic] = []

    def span(key: str):
        node = own.get(key)
        if node is None:
            return service.span
        return node.value.span if isinstance(node, s.Assign) else node.span

    def error(target: str, key: str, reason: str, help: str) -> None:
        out.append(Diagnostic("E230", f"service `{service.name}` cannot run on {target}: "
                              f"{reason}", span(key), help))

    def warn(target: str, key: str, reason: str, help: str) -> None:
        out.append(Diagnostic("W230", f"service `{service.name}` on {target}: {reason}",
                              span(key), help))

    python = service.handler.kind == "python"

    def without(target: str) -> str:
        rest = ", ".join(t for t in service.targets if t != target)
        return f"leave {target} out with `targets = [{rest}]`"

    if "aws" in service.targets:
        if python:
            if service.is_worker:
                error("aws", "python", "a python service runs as Lambda behind an HTTP API, "
                      "and Lambda cannot run a long-lived worker",
                      f"use an `image` worker (ECS Fargate), or {without('aws')}")
            if service.release.strategy != "rolling":
                error("aws", "release", f"`{service.release.strategy}` needs two target "
                      "groups behind a load balancer; a python service is a Lambda function",
                      f"use an `image` service for {service.release.strategy}, or "
                      "`strategy = rolling`")
            if not LAMBDA_MEMORY[0] <= service.memory_mib <= LAMBDA_MEMORY[1]:
                error("aws", "memory", f"Lambda allows {LAMBDA_MEMORY[0]}MB..{LAMBDA_MEMORY[1]}MB",
                      "set `memory` in that range")
            if "scale_on" in own:
                warn("aws", "scale_on", "`scale_on` is ignored: Lambda scales per request "
                     "(the upper bound of `replicas` caps its concurrency)",
                     "remove it, or use an `image` service to scale on cpu or memory")
            for alert in service.alerts:
                if alert.metric in ("unhealthy", "cpu", "memory"):
                    out.append(Diagnostic(
                        "W230", f"service `{service.name}` on aws: no `{alert.metric}` alarm "
                        "for a Lambda function (it has no replicas or utilisation to watch)",
                        alert.span or service.span,
                        "alert on `error_rate` or `latency_p95`, or use an `image` service"))
            if "health" in own:
                warn("aws", "health", "Lambda has no health check; `health` is only used "
                     "by the other targets", "nothing to do if that is intended")
        else:
            sizes = FARGATE_SIZES.get(service.cpu)
            if sizes is None:
                error("aws", "cpu", f"ECS Fargate has no size with cpu {service.cpu:g}",
                      "use one of " + ", ".join(f"{c:g}" for c in FARGATE_SIZES))
            elif service.memory_mib not in sizes:
                error("aws", "memory", f"ECS Fargate with cpu {service.cpu:g} allows memory "
                      f"{sizes[0]}MB..{sizes[-1]}MB in steps of {sizes[1] - sizes[0]}MB, not "
                      f"{service.memory_mib}MB",
                      f"set `memory = {_nearest(service.memory_mib, sizes)}MB` or change `cpu`")
    if "gcp" in service.targets:
        if not service.is_worker and not python and "cpu" in own and not (
                CLOUD_RUN_CPU[0] <= service.cpu <= CLOUD_RUN_CPU[1]):
            warn("gcp", "cpu", f"Cloud Run gets cpu {_clamp(service.cpu, CLOUD_RUN_CPU):g}, not "
                 f"{service.cpu:g} (it allows {CLOUD_RUN_CPU[0]:g}..{CLOUD_RUN_CPU[1]:g} here)",
                 "set `cpu` between 1 and 8")
        if service.memory_mib > CLOUD_RUN_MAX_MEMORY:
            error("gcp", "memory", f"Cloud Run allows at most {CLOUD_RUN_MAX_MEMORY}MB",
                  f"lower `memory`, or {without('gcp')}")
        if python and service.is_worker:
            error("gcp", "python", "a python service is a Cloud Function with an HTTP trigger, "
                  "which cannot run a long-lived worker",
                  f"use an `image` worker (a Cloud Run worker pool), or {without('gcp')}")
        if "scale_on" in own:
            warn("gcp", "scale_on", "Cloud Run scales on concurrent requests and CPU at its "
                 "own target; `scale_on` is not applied",
                 "nothing to do if that is fine; `replicas` still bounds the instances")
        if service.is_worker and service.scaling.autoscaled:
            warn("gcp", "replicas", "a Cloud Run worker pool has a fixed instance count; it "
                 f"runs {service.scaling.min_replicas}", "set a fixed `replicas`")
        if service.release.strategy != "rolling":
            warn("gcp", "release", f"`{service.release.strategy}` is not applied: each "
                 "deploy sends all traffic to the new revision once it is ready",
                 "roll back with `flowc rollback`, or use `strategy = rolling`")
    if "k8s" in service.targets and service.release.strategy != "rolling":
        warn("k8s", "release", f"`{service.release.strategy}` is not applied: a Deployment "
             "replaces pods with a rolling update (readiness-gated)",
             "use `strategy = rolling`, or an add-on such as Argo Rollouts")
    return out


def _nearest(value: int, sizes: tuple[int, ...]) -> int:
    return min(sizes, key=lambda s: abs(s - value))


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return max(bounds[0], min(bounds[1], value))
