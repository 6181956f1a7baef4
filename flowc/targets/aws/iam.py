"""IAM and KMS policy documents for the AWS target, built from the resources they name.

Every document is a JSON string (Terraform interpolations such as
`${aws_lambda_function.x.arn}` inside are resolved by Terraform). Statements grant
only what one task needs on its own resources.
"""

from __future__ import annotations

import json
import re
from typing import Any

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[^:@]+)"
)

ACCOUNT = "${data.aws_caller_identity.caller.account_id}"
PARTITION = "${data.aws_partition.partition.partition}"
REGION = "${data.aws_region.region.name}"


def document(statements: list[dict[str, Any]]) -> str:
    """A policy document; statements keep their order, keys are sorted for stable bytes."""
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


def allow(sid: str, actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    stmt: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources if len(resources) != 1 else resources[0],
    }
    stmt.update(extra)
    return stmt


def assume_role(service: str) -> str:
    """Trust policy: only `service` (e.g. "lambda.amazonaws.com") in this account."""
    return document(
        [
            {
                "Sid": "AssumeFromService",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            }
        ]
    )


def kms_key_policy(log_group_prefixes: list[str]) -> str:
    """Key policy of the app's key: the account administers it (IAM policies decide who
    uses it); CloudWatch Logs may use it for this app's log groups; CloudWatch alarms
    may publish to the app's encrypted SNS topics."""
    log_arns = [
        f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{prefix}*"
        for prefix in log_group_prefixes
    ]
    return document(
        [
            {
                "Sid": "AccountAdministersKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{PARTITION}:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchLogsEncryptAppLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
                "Action": [
                    "kms:Decrypt*",
                    "kms:Describe*",
                    "kms:Encrypt*",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_arns}},
            },
            {
                "Sid": "CloudWatchAlarmsPublishToEncryptedTopics",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
            },
        ]
    )


def queue_policy_for_rule(queue_arn: str, rule_arn: str) -> str:
    """Let one EventBridge rule (and nothing else) send to a dead-letter queue."""
    return document(
        [
            {
                "Sid": "FailedRunsFromRule",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ]
    )


def ecr_pull(image: str) -> list[dict[str, Any]]:
    """Statements to pull `image` when it lives in ECR (nothing for public registries)."""
    m = _ECR_IMAGE.match(image)
    if not m:
        return []
    repo = f"arn:{PARTITION}:ecr:{m['region']}:{m['account']}:repository/{m['repo']}"
    return [
        allow("EcrLogin", ["ecr:GetAuthorizationToken"], ["*"]),
        allow("PullOwnImage", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                               "ecr:GetDownloadUrlForLayer"], [repo]),
    ]
