"""What each target's runtime allows, per task kind: one table the checker reads.

Sources (checked 2026-11): AWS Lambda quotas (15 min, 128 MB-10,240 MB, async
invocations retried at most 2 times); ECS Fargate task sizes (512 MiB-120 GiB);
Cloud Functions 2nd gen HTTP functions (60 min, up to 32 GiB; but Cloud
Scheduler's attempt deadline is 30 min); Cloud Run jobs (task
timeout up to 24 h, up to 32 GiB); Cloud Scheduler retry_count 0-5.
Kubernetes has no such limits; the cluster decides.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeLimits:
    runtime: str  # the product's name, for messages
    min_memory_mib: int | None = None
    max_memory_mib: int | None = None
    max_timeout_s: int | None = None
    max_retries: int | None = None
    cpu_ignored: bool = False  # the product sizes CPU from memory
    supports_canary: bool = False  # can split scheduled runs between two versions
    longer_help: str = ""  # what to do when the timeout does not fit


LIMITS: dict[tuple[str, str], RuntimeLimits] = {
    ("aws", "python"): RuntimeLimits(
        "AWS Lambda", 128, 10240, 900, 2, cpu_ignored=True, supports_canary=True,
        longer_help="use an `image` task (ECS Fargate has no time limit), "
        "or leave AWS out with `targets = [gcp, k8s]`",
    ),
    ("aws", "image"): RuntimeLimits("ECS Fargate", 512, 122880, None, 185),
    # Functions allow 60 min, but Cloud Scheduler waits at most 30 min for an HTTP
    # target: a longer run would be marked failed and retried while still running.
    ("gcp", "python"): RuntimeLimits(
        "Cloud Functions (2nd gen)", 128, 32768, 1800, 5,
        longer_help="use an `image` task (Cloud Run jobs run up to 24h)",
    ),
    ("gcp", "image"): RuntimeLimits(
        "Cloud Run jobs", 512, 32768, 86400, 5,
        longer_help="split the work into shorter runs",
    ),
    ("k8s", "python"): RuntimeLimits("Kubernetes CronJob"),
    ("k8s", "image"): RuntimeLimits("Kubernetes CronJob"),
}


def limits_for(target: str, kind: str) -> RuntimeLimits:
    return LIMITS.get((target, kind), RuntimeLimits(target))
