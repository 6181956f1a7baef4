"""GCP: python tasks on Cloud Functions (2nd gen), image tasks on Cloud Run jobs, schedules
on Cloud Scheduler (flowc/targets/gcp/build.py). Registered in flowc/targets/__init__.py.

Limits (checked 2026-11): HTTP functions run up to 60 min, but Cloud Scheduler waits at
most 30 min for an HTTP target (a longer run would be marked failed and retried while
still running); Cloud Run job tasks up to 24 h; both up to 32 GiB; Cloud Scheduler
retry_count 0-5.
DST: Cloud Scheduler "runs on wall clock time" and documents anomalies in repeated
hours without saying which, so any hit is a difference.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowc.compiler.ir import Backend
from flowc.compiler.schedules.dst import UNKNOWN, DstPolicy
from flowc.compiler.schedules.read_unix import read_unix
from flowc.targets.gcp import cron, limits, operations
from flowc.targets.registry import BackendKind, ReservedEnv, RuntimeLimits, Target


@dataclass(frozen=True)
class GcpSettings:
    """`gcp { project = "..." region = "..." }` in an environment."""

    project: str | None = None
    region: str = "us-central1"
    backend: Backend | None = None


TARGET = Target(
    name="gcp",
    title="GCP",
    settings=GcpSettings,
    limits={
        "python": RuntimeLimits(
            "Cloud Functions (2nd gen)", 128, 32768, 1800, 5,
            longer_help="use an `image` task (Cloud Run jobs run up to 24h)",
        ),
        "image": RuntimeLimits(
            "Cloud Run jobs", 512, 32768, 86400, 5,
            longer_help="split the work into shorter runs",
        ),
    },
    cron=cron.translate,
    read_cron=read_unix,
    dst=DstPolicy("Cloud Scheduler", gap=UNKNOWN, overlap=UNKNOWN),
    backends=(BackendKind("gcs", ("bucket",), environment_level=True),),
    service_limits=limits.check_service,
    operations=operations.diagnostics,
    reserved_env={
        "python": ReservedEnv("Cloud Functions (2nd gen)", frozenset({
            "PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "FUNCTION_TARGET",
            "FUNCTION_SIGNATURE_TYPE",
        }), ("X_GOOGLE_",)),
        "image": ReservedEnv("Cloud Run jobs", frozenset({
            "PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION", "CLOUD_RUN_JOB",
            "CLOUD_RUN_EXECUTION", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_ATTEMPT",
            "CLOUD_RUN_TASK_COUNT",
        }), ("X_GOOGLE_",)),
        "image service": ReservedEnv("Cloud Run services", frozenset({
            "PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION",
        }), ("X_GOOGLE_",)),
    },
    builder="flowc.targets.gcp.build:GcpBuilder",
    pricing="flowc.targets.gcp.pricing:GcpPricing",
)
