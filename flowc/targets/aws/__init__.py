"""AWS: python tasks on Lambda, image tasks on ECS Fargate, schedules on EventBridge
Scheduler (flowc/targets/aws/build.py and its parts). Registered in flowc/targets/__init__.py.

Limits (checked 2026-11): Lambda quotas (15 min, 128 MB-10,240 MB, asynchronous
invocations retried at most 2 times); ECS Fargate task sizes (512 MiB-120 GiB).
DST: EventBridge Scheduler skips a local time that does not exist and runs a repeated
local time only once.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowc.compiler.ir import Backend
from flowc.compiler.schedules.dst import ONCE, SKIP, DstPolicy
from flowc.compiler.schedules.read_aws import read_aws
from flowc.targets.aws import cron, limits, operations
from flowc.targets.registry import BackendKind, ReservedEnv, RuntimeLimits, Target


@dataclass(frozen=True)
class AwsSettings:
    """`aws { region = "..." subnets = [...] security_groups = [...] }` in an environment."""

    region: str = "us-east-1"
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    backend: Backend | None = None
    certificate_arn: str | None = None  # ACM certificate: services' load balancers use HTTPS


TARGET = Target(
    name="aws",
    title="AWS",
    settings=AwsSettings,
    limits={
        "python": RuntimeLimits(
            "AWS Lambda", *limits.LAMBDA_MEMORY, 900, 2, cpu_ignored=True, supports_canary=True,
            longer_help="use an `image` task (ECS Fargate has no time limit), "
            "or leave AWS out with `targets = [gcp, k8s]`",
        ),
        "image": RuntimeLimits("ECS Fargate", 512, 122880, None, 185),
    },
    cron=cron.translate,
    read_cron=read_aws,
    dst=DstPolicy("EventBridge Scheduler", gap=SKIP, overlap=ONCE),
    backends=(BackendKind("s3", ("bucket", "key"), environment_level=True),),
    service_limits=limits.check_service,
    operations=operations.diagnostics,
    reserved_env={
        "python": ReservedEnv("AWS Lambda", frozenset({
            "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
            "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
        })),
        "image": ReservedEnv("ECS Fargate", frozenset({
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI", "ECS_CONTAINER_METADATA_URI_V4",
            "ECS_AGENT_URI",
        })),
    },
    builder="flowc.targets.aws.build:AwsBuilder",
    pricing="flowc.targets.aws.pricing:AwsPricing",
)
