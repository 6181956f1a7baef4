"""Kubernetes: every task is a CronJob (flowc/targets/k8s/build.py, manifests.py).
Registered in flowc/targets/__init__.py.

Limits: none flowc knows; the cluster decides.
DST: the CronJob controller (robfig/cron) steps through real hours, so a skipped hour
never comes and a repeated hour is walked twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowc.compiler.ir import Backend
from flowc.compiler.schedules.dst import SKIP, TWICE, DstPolicy
from flowc.compiler.schedules.read_unix import read_unix
from flowc.targets.k8s import cron, limits, operations
from flowc.targets.registry import BackendKind, ReservedEnv, RuntimeLimits, Target


@dataclass(frozen=True)
class K8sSettings:
    """`k8s { namespace = "..." python_image = "..." prometheus = true }` in an environment."""

    namespace: str = "default"
    python_image: str | None = None  # None: python:<the task's python_version>-slim
    prometheus: bool = False  # a Prometheus operator is installed: emit PrometheusRules
    ingress_class: str | None = None  # public services' Ingress class (e.g. "nginx")
    ingress_host: str | None = None  # public service NAME answers on NAME.<ingress_host>
    backend: Backend | None = None


TARGET = Target(
    name="k8s",
    title="Kubernetes",
    settings=K8sSettings,
    limits={"python": RuntimeLimits("Kubernetes CronJob"),
            "image": RuntimeLimits("Kubernetes CronJob")},
    cron=cron.translate,
    read_cron=read_unix,
    dst=DstPolicy("the Kubernetes CronJob controller", gap=SKIP, overlap=TWICE),
    backends=(BackendKind("kubernetes", ("secret_suffix",)),),
    service_limits=limits.check_service,
    operations=operations.diagnostics,
    reserved_env={
        # flowc's pod sets these for python tasks (flowc.targets.k8s.manifests.pod_spec): a
        # second entry with the same name would be a duplicate in the container's env list.
        "python": ReservedEnv("flowc's Kubernetes pod", frozenset({
            "PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "HOME",
        })),
        "image": ReservedEnv("flowc's Kubernetes pod"),
    },
    builder="flowc.targets.k8s.build:K8sBuilder",
    pricing="flowc.targets.k8s.pricing:K8sPricing",
)
