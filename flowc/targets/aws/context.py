"""What the AWS builder's functions share: one `AwsContext` per build, passed explicitly.

The builder (`build.py`) creates the context, fills the app-wide resources (KMS key,
schedule group, ECS cluster, secrets) before any task or service is added, and hands it to
plain functions (`add_function`, `add_ecs_task`, `add_services`...) that add resources.
Every field is declared here; the caches (layers, code bucket, service VPC) are filled by
the one module that owns them. The release plan is the stack's (`release_of`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowc.compiler.ir import App, Service, Task
from flowc.targets.aws import iam
from flowc.targets.base import Resource, Stack, TaskRelease, standard_tags
from flowc.targets.naming import Namer

LOG_RETENTION_DAYS = 365


@dataclass
class AwsContext:
    app: App
    stack: Stack
    key: Resource | None = None  # the KMS key (logs, env vars, secrets, topics, schedules)
    group: Resource | None = None  # the schedule group
    cluster: Resource | None = None  # the ECS cluster, if an image task or service runs
    secrets: dict[str, Resource] = field(default_factory=dict)  # name -> Secrets Manager secret
    # caches, each filled by the one module that builds them:
    layers: dict[str, Resource | None] = field(default_factory=dict)  # release.py (None: failed)
    bucket: Resource | None = None  # release.py: the code bucket, once a package needs it
    # services.py, for image services: the first subnet's VPC, or the default VPC (W403)
    vpc_id: str | None = None
    vpc: Resource | None = None  # that VPC (its CIDR block)
    service_subnets: list[str] | str = field(default_factory=list)  # the list or an expression

    @property
    def names(self) -> Namer:
        return self.stack.names

    def release_of(self, task: Task | Service) -> TaskRelease:
        """Where the release plan puts the alias of a task or python service here."""
        return self.stack.release_of(task)

    def tags(self, task: Task | None = None) -> dict[str, str]:
        return standard_tags(self.app, task)

    def cluster_tasks_arn(self) -> str:
        """The ARN pattern of every ECS task in the app's cluster (tagging, stopping)."""
        return (f"arn:{iam.PARTITION}:ecs:{iam.REGION}:{iam.ACCOUNT}:task/"
                f"{self.cluster.ref('name')}/*")

    def default_vpc(self) -> Resource:
        """The account's default VPC, for image tasks and services when the spec names no
        subnets (W403): looked up once per stack."""
        if "aws_vpc" not in self.stack.data_sources:
            self.stack.data("aws_vpc", "default_vpc", {"default": True})
        return Resource("aws_vpc", "default_vpc", data=True)

    def default_subnets(self) -> str:
        """The default VPC's default subnets (one per zone): a Terraform expression."""
        if "aws_subnets" not in self.stack.data_sources:
            self.stack.data("aws_subnets", "default_subnets", {"filter": [
                {"name": "vpc-id", "values": [self.default_vpc().ref("id")]},
                {"name": "default-for-az", "values": ["true"]},
            ]})
        return "${data.aws_subnets.default_subnets.ids}"

    def role(self, task: Task, what: str, service: str, statements: list[dict[str, Any]],
             role_id: str, policy_id: str) -> Resource:
        role = self.stack.resource("aws_iam_role", f"{task.name}_{role_id}", {
            "name": self.names.name(task.name, what, kind="iam_role"),
            "description": f"flowc {what} role of task `{task.name}`",
            "assume_role_policy": iam.assume_role(service),
            "tags": self.tags(task),
        })
        self.stack.resource("aws_iam_role_policy", f"{task.name}_{policy_id}", {
            "name": self.names.name(task.name, what, kind="iam_policy"),
            "role": role.ref("id"),
            "policy": iam.document(statements),
        })
        return role

    def log_group(self, task: Task, name: str) -> Resource:
        return self.stack.resource("aws_cloudwatch_log_group", f"{task.name}_log_group", {
            "name": name,
            "retention_in_days": LOG_RETENTION_DAYS,
            "kms_key_id": self.key.ref("arn"),
            "tags": self.tags(task),
        })

    def secret_statements(self, task: Task) -> list[dict[str, Any]]:
        arns = [self.secrets[name].ref("arn") for name in task.secrets]
        if not arns:
            return []
        return [iam.allow("ReadOwnSecrets", ["secretsmanager:GetSecretValue"], arns)]
