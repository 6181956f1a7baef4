"""AWS target, `alert`: an SNS topic per task (KMS-encrypted), email subscriptions, and a
CloudWatch metric alarm per alert.
Plain functions of an `AwsContext` (`flowc/targets/aws/context.py`), called by `build.py`.

Metrics: python tasks use AWS/Lambda Errors (Sum) and Duration (Maximum, ms); image
tasks count matches of their failure rule (AWS/Events MatchedEvents); dead letters
are the queue's ApproximateNumberOfMessagesVisible.
"""

from __future__ import annotations

from typing import Any

from flowc.compiler.ir import Alert, PythonHandler, Task
from flowc.targets.aws.context import AwsContext
from flowc.targets.base import Resource, escape_literal

ALARM_PERIOD_S = 300

COMPARATORS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}


def measurable(task: Task, alert: Alert) -> bool:
    """False for alerts AWS cannot measure (run duration of an ECS task): no alarm."""
    return not (alert.metric == "duration" and not isinstance(task.handler, PythonHandler))


# -- alerts ---------------------------------------------------------------------------


def add_alerts(ctx: AwsContext, task: Task, dlq: Resource | None) -> None:
    s = ctx.stack
    topic = s.resource("aws_sns_topic", f"{task.name}_alerts", {
        "name": ctx.names.name(task.name, "alerts", kind="sns"),
        "kms_master_key_id": ctx.key.ref("arn"),
        "tags": ctx.tags(task),
    })
    s.output(f"{task.name}_alerts_topic_arn", topic.ref("arn"),
             f"SNS topic of task `{task.name}`'s alerts (email subscriptions must be "
             "confirmed by their recipients)")
    emails = sorted({e for a in task.alerts if measurable(task, a) for e in a.notify})
    for k, email in enumerate(emails):
        s.resource("aws_sns_topic_subscription", f"{task.name}_alert_email_{k}", {
            "topic_arn": topic.ref("arn"),
            "protocol": "email",
            "endpoint": escape_literal(email),
        })
    for j, alert in enumerate(task.alerts):
        if not measurable(task, alert):
            continue
        s.resource("aws_cloudwatch_metric_alarm", f"{task.name}_alarm_{j}", {
            "alarm_name": ctx.names.name(task.name, alert.metric, str(j), kind="alarm"),
            "alarm_description": f"flowc task {task.name}: {alert.metric} "
                                 f"{alert.comparator} {alert.threshold:g}",
            "comparison_operator": COMPARATORS[alert.comparator],
            "evaluation_periods": 1,
            "period": ALARM_PERIOD_S,
            "treat_missing_data": "notBreaching",
            "alarm_actions": [topic.ref("arn")],
            **alarm_metric(task, alert, dlq),
            "tags": ctx.tags(task),
        })


def alarm_metric(task: Task, alert: Alert, dlq: Resource | None) -> dict[str, Any]:
    if alert.metric == "dead_letters":
        return {"namespace": "AWS/SQS", "metric_name": "ApproximateNumberOfMessagesVisible",
                "statistic": "Maximum", "threshold": alert.threshold,
                "dimensions": {"QueueName": dlq.ref("name")}}
    if isinstance(task.handler, PythonHandler):
        fn = f"${{aws_lambda_function.{task.name}_function.function_name}}"
        if alert.metric == "duration":
            return {"namespace": "AWS/Lambda", "metric_name": "Duration",
                    "statistic": "Maximum", "threshold": alert.threshold * 1000,
                    "dimensions": {"FunctionName": fn}}
        return {"namespace": "AWS/Lambda", "metric_name": "Errors", "statistic": "Sum",
                "threshold": alert.threshold, "dimensions": {"FunctionName": fn}}
    rule = f"${{aws_cloudwatch_event_rule.{task.name}_failure_rule.name}}"
    return {"namespace": "AWS/Events", "metric_name": "MatchedEvents", "statistic": "Sum",
            "threshold": alert.threshold, "dimensions": {"RuleName": rule}}
