"""GCP: what happens when a run fails (`on_failure = dead_letter`) and `alert` policies.

Dead letters: a Pub/Sub topic (plus a never-expiring pull subscription, 7 days retention, so
nothing published is lost) receives every failed run through a project log sink whose
writer identity may only publish to that topic. The sink's filter matches
- Cloud Scheduler attempts of the task's scheduler jobs that finished with an error (one
  message per failed attempt; after the last retry nothing else follows), and
- for image tasks, Cloud Run job executions of the task's job that failed (after the
  job's own `max_retries`).
Each message is the LogEntry as JSON (job name, scheduled time, status, attempt URL).

Alerts: one `google_monitoring_alert_policy` per `alert`, notifying one email
`google_monitoring_notification_channel` per address (shared across tasks). Metrics:
- errors: functions `run.googleapis.com/request_count` with 5xx responses; jobs
  `run.googleapis.com/job/completed_execution_count` with result "failed"; summed over 5 min.
- duration (seconds): functions the 99th percentile of `request_latencies`; jobs an
  execution still running after that long (`job/running_executions` > 0 for the duration).
- dead_letters: messages published to the task's dead-letter topic in 5 min.
"""

from __future__ import annotations

from typing import Any, Protocol

from flowc.compiler.ir import Alert, App, PythonHandler, Task
from flowc.diagnostics import Diagnostic
from flowc.targets.base import Resource, Stack
from flowc.targets.naming import schedule_keys, short_hash


class Gcp(Protocol):
    """What these functions read of the GCP build (flowc.targets.gcp.Gcp)."""

    app: App
    stack: Stack
    project: str
    channels: dict[str, Resource]  # email -> notification channel, shared across tasks

    def labels(self, task: Task | None = None) -> dict[str, str]: ...

COMPARISON = {">": "COMPARISON_GT", ">=": "COMPARISON_GE", "<": "COMPARISON_LT",
              "<=": "COMPARISON_LE"}
RETENTION = "604800s"  # 7 days, Pub/Sub's maximum for subscriptions
WINDOW = "300s"


def check_alerts(task: Task) -> list[Diagnostic]:
    """Alerts GCP cannot express for this task."""
    out = []
    for alert in task.alerts:
        if alert.metric == "dead_letters" and task.on_failure != "dead_letter":
            out.append(Diagnostic(
                "E454", f"task `{task.name}` alerts on dead letters but keeps none",
                alert.span or task.span, help="add `on_failure = dead_letter` to the task"))
        if (alert.metric == "duration" and not isinstance(task.handler, PythonHandler)
                and alert.comparator not in (">", ">=")):
            out.append(Diagnostic(
                "E455", f"`duration {alert.comparator}` cannot be watched for the Cloud Run job "
                f"of task `{task.name}`: GCP reports only that an execution is still running",
                alert.span or task.span, help="use `alert duration > SECONDS notify ...`"))
    return out


def failure_handling(gcp: Gcp, task: Task) -> None:
    """The dead-letter topic and the alert policies of one task."""
    topic = dead_letter(gcp, task) if task.on_failure == "dead_letter" else None
    for n, alert in enumerate(task.alerts, start=1):
        alert_policy(gcp, task, n, alert, topic)


def _job_filter(task: Task, gcp: Gcp) -> str:
    own = {f"schedule_{task.name}__{key}" for _, key in schedule_keys(task, "gcp")}
    names = [body["name"] for rid, body in
             gcp.stack.resources.get("google_cloud_scheduler_job", {}).items() if rid in own]
    ids = " OR ".join(f'"{n}"' for n in names) or '"-"'
    return (
        f'(resource.type="cloud_scheduler_job" AND resource.labels.job_id=({ids}) '
        'AND jsonPayload."@type"="type.googleapis.com/google.cloud.scheduler.logging.'
        'AttemptFinished" AND severity>=ERROR)'
    )


def dead_letter(gcp: Gcp, task: Task) -> Any:
    stack, names = gcp.stack, gcp.stack.names
    topic = stack.resource("google_pubsub_topic", f"dead_letter_topic_{task.name}", {
        "project": gcp.project,
        "name": names.name(task.name, "dead-letter", limit=255, kind="topic"),
        "message_retention_duration": RETENTION,
        "labels": gcp.labels(task),
    })
    sub = stack.resource("google_pubsub_subscription", f"dead_letter_subscription_{task.name}", {
        "project": gcp.project,
        "name": names.name(task.name, "dead-letter", limit=255, kind="subscription"),
        "topic": topic.ref("id"),
        "ack_deadline_seconds": 60,
        "message_retention_duration": RETENTION,
        "retain_acked_messages": False,
        "expiration_policy": {"ttl": ""},
        "labels": gcp.labels(task),
    })
    log_filter = _job_filter(task, gcp)
    if not isinstance(task.handler, PythonHandler):
        job = gcp.stack.resources["google_cloud_run_v2_job"][f"job_{task.name}"]["name"]
        log_filter += (
            f' OR (resource.type="cloud_run_job" AND resource.labels.job_name="{job}" '
            'AND log_id("run.googleapis.com/varlog/system") AND severity>=ERROR)'
        )
    sink = stack.resource("google_logging_project_sink", f"dead_letter_sink_{task.name}", {
        "project": gcp.project,
        "name": names.name(task.name, "dead-letter", limit=100, kind="sink"),
        "description": f"flowc: failed runs of {task.name} -> its dead-letter topic",
        "destination": f"pubsub.googleapis.com/{topic.ref('id')}",
        "filter": log_filter,
        "unique_writer_identity": True,
    })
    stack.resource("google_pubsub_topic_iam_member", f"dead_letter_publisher_{task.name}", {
        "project": gcp.project,
        "topic": topic.ref("name"),
        "role": "roles/pubsub.publisher",
        "member": sink.ref("writer_identity"),
    })
    stack.output(f"{task.name}_dead_letter_subscription", sub.ref("id"),
                 description=f"pull subscription holding the failed runs of {task.name}")
    return topic


def channel(gcp: Gcp, email: str) -> Any:
    if email not in gcp.channels:
        gcp.channels[email] = gcp.stack.resource(
            "google_monitoring_notification_channel", f"email_{short_hash(email)}", {
                "project": gcp.project,
                "display_name": f"flowc {gcp.app.stack_name}: {email}",
                "type": "email",
                "labels": {"email_address": email},
                "user_labels": gcp.labels(),
            })
    return gcp.channels[email]


def _condition(gcp: Gcp, task: Task, alert: Alert, topic: Any) -> dict[str, Any]:
    is_function = isinstance(task.handler, PythonHandler)
    kind = "google_cloudfunctions2_function" if is_function else "google_cloud_run_v2_job"
    prefix = "function_" if is_function else "job_"
    name = gcp.stack.resources[kind][f"{prefix}{task.name}"]["name"]
    threshold: float = alert.threshold
    duration = "0s"
    if alert.metric == "errors" and is_function:
        flt = ('resource.type = "cloud_run_revision" AND '
               f'resource.labels.service_name = "{name}" AND '
               'metric.type = "run.googleapis.com/request_count" AND '
               'metric.labels.response_code_class = "5xx"')
        aligner, reducer = "ALIGN_SUM", "REDUCE_SUM"
    elif alert.metric == "errors":
        flt = ('resource.type = "cloud_run_job" AND '
               f'resource.labels.job_name = "{name}" AND '
               'metric.type = "run.googleapis.com/job/completed_execution_count" AND '
               'metric.labels.result = "failed"')
        aligner, reducer = "ALIGN_SUM", "REDUCE_SUM"
    elif alert.metric == "duration" and is_function:
        flt = ('resource.type = "cloud_run_revision" AND '
               f'resource.labels.service_name = "{name}" AND '
               'metric.type = "run.googleapis.com/request_latencies"')
        aligner, reducer = "ALIGN_PERCENTILE_99", "REDUCE_MAX"
        threshold = alert.threshold * 1000  # the metric is in milliseconds
    elif alert.metric == "duration":
        flt = ('resource.type = "cloud_run_job" AND '
               f'resource.labels.job_name = "{name}" AND '
               'metric.type = "run.googleapis.com/job/running_executions"')
        aligner, reducer = "ALIGN_MAX", "REDUCE_MAX"
        threshold = 0
        duration = f"{max(60, -(-int(alert.threshold) // 60) * 60)}s"  # whole minutes
    else:  # dead_letters
        topic_name = gcp.stack.resources["google_pubsub_topic"][topic.id]["name"]
        flt = ('resource.type = "pubsub_topic" AND '
               f'resource.labels.topic_id = "{topic_name}" AND '
               'metric.type = "pubsub.googleapis.com/topic/send_message_operation_count"')
        aligner, reducer = "ALIGN_SUM", "REDUCE_SUM"
    return {
        "display_name": f"{task.name} {alert.metric} {alert.comparator} {alert.threshold:g}",
        "condition_threshold": {
            "filter": flt,
            "comparison": COMPARISON[alert.comparator] if duration == "0s" else "COMPARISON_GT",
            "threshold_value": threshold,
            "duration": duration,
            "aggregations": [{
                "alignment_period": WINDOW,
                "per_series_aligner": aligner,
                "cross_series_reducer": reducer,
            }],
            "trigger": {"count": 1},
        },
    }


def alert_policy(gcp: Gcp, task: Task, n: int, alert: Alert, topic: Any) -> None:
    channels = [channel(gcp, email).ref("id") for email in alert.notify]
    condition = _condition(gcp, task, alert, topic)
    gcp.stack.resource("google_monitoring_alert_policy", f"alert_{task.name}__{n}", {
        "project": gcp.project,
        "display_name": f"flowc {gcp.app.stack_name}: {condition['display_name']}",
        "combiner": "OR",
        "enabled": True,
        "severity": "ERROR",
        "conditions": [condition],
        "notification_channels": channels,
        "alert_strategy": {"auto_close": "1800s"},
        "documentation": {
            "content": f"Task `{task.name}` of flowc app `{gcp.app.name}` "
                       f"({gcp.app.environment or 'default'}): {alert.metric} "
                       f"{alert.comparator} {alert.threshold:g}.",
            "mime_type": "text/markdown",
        },
        "user_labels": gcp.labels(task),
    })
