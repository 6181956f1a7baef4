"""What `flowc up` created, read back from the local cloud through boto3 (not from
Terraform's memory): schedules with expression and timezone, functions, ECS task
definitions, queues, secrets, topics and alarms; for services their ECS services, load
balancer, traffic rule weights and HTTP API. The Terraform state says which resources
to look for; a resource the state lists but the cloud lacks is warning W602.
Roles, policies, log groups and keys are counted, not listed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App
from flowc.deploy.overrides import STATE_FILE
from flowc.diagnostics import Diagnostic
from flowc.targets.owners import owner

KINDS = {  # resource type -> (kind shown, service)
    "aws_scheduler_schedule": ("schedule", "scheduler"),
    "aws_lambda_function": ("function", "lambda"),
    "aws_ecs_task_definition": ("ecs task", "ecs"),
    "aws_sqs_queue": ("queue", "sqs"),
    "aws_secretsmanager_secret": ("secret", "secretsmanager"),
    "aws_sns_topic": ("topic", "sns"),
    "aws_cloudwatch_metric_alarm": ("alarm", "cloudwatch"),
    # services (an image service's colours each have an ECS service)
    "aws_ecs_service": ("ecs service", "ecs"),
    "aws_lb": ("load balancer", "elbv2"),
    "aws_lb_listener_rule": ("traffic", "elbv2"),
    "aws_apigatewayv2_api": ("http api", "apigatewayv2"),
}
ORDER = [kind for kind, _ in KINDS.values()]


@dataclass
class Row:
    kind: str
    name: str
    owner: str  # "task daily_report", "secret db_url" or "shared"
    details: str
    found: bool = True


def state_resources(workdir: Path) -> list[dict[str, Any]]:
    """Managed resources in the working directory's local state, one dict per instance."""
    try:
        state = json.loads((Path(workdir) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return []
    out = []
    for res in state.get("resources", []):
        if res.get("mode") != "managed":
            continue
        for inst in res.get("instances", []):
            out.append({"type": res["type"], "name": res["name"],
                        "attributes": inst.get("attributes") or {}})
    return out


def clients(endpoint: str, region: str) -> Any:
    """A factory of boto3 clients for the local cloud (test credentials)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=region)
    config = Config(retries={"max_attempts": 2}, connect_timeout=2, read_timeout=15)
    cache: dict[str, Any] = {}

    def get(service: str) -> Any:
        if service not in cache:
            cache[service] = session.client(service, endpoint_url=endpoint, config=config)
        return cache[service]

    return get


def _read(client: Any, type_: str, attrs: dict[str, Any]) -> tuple[str, str]:
    """(name, details) read back from the cloud; raises the client's error if missing."""
    if type_ == "aws_scheduler_schedule":
        s = client.get_schedule(Name=attrs["name"], GroupName=attrs.get("group_name") or "default")
        target = s.get("Target", {})
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn", "")
        parts = [s["ScheduleExpression"], s.get("ScheduleExpressionTimezone", "UTC"),
                 s.get("State", "")]
        if dlq:
            parts.append("dead letters → " + dlq.rsplit(":", 1)[-1])
        return s["Name"], "  ".join(p for p in parts if p)
    if type_ == "aws_lambda_function":
        f = client.get_function_configuration(FunctionName=attrs["function_name"])
        return f["FunctionName"], (f"{f.get('Runtime', '')}  {f.get('Handler', '')}  "
                                   f"{f.get('MemorySize')}MB  {f.get('Timeout')}s")
    if type_ == "aws_ecs_task_definition":
        td = client.describe_task_definition(taskDefinition=attrs["arn"])["taskDefinition"]
        images = ", ".join(c.get("image", "") for c in td.get("containerDefinitions", []))
        return (f"{td['family']}:{td.get('revision')}",
                f"{images}  cpu {td.get('cpu')}  {td.get('memory')}MB")
    if type_ == "aws_sqs_queue":
        url = client.get_queue_url(QueueName=attrs["name"])["QueueUrl"]
        a = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        days = int(a.get("MessageRetentionPeriod", 0)) // 86400
        return attrs["name"], f"{a.get('ApproximateNumberOfMessages', 0)} messages  kept {days}d"
    if type_ == "aws_secretsmanager_secret":
        d = client.describe_secret(SecretId=attrs["name"])
        if d.get("DeletedDate"):
            raise LookupError("scheduled for deletion")
        has_value = bool(d.get("VersionIdsToStages"))
        return d["Name"], ("value set" if has_value else
                           "no value yet: aws secretsmanager put-secret-value")
    if type_ == "aws_sns_topic":
        client.get_topic_attributes(TopicArn=attrs["arn"])
        subs = client.list_subscriptions_by_topic(TopicArn=attrs["arn"])["Subscriptions"]
        return attrs["name"], ", ".join(f"{s['Protocol']}: {s['Endpoint']}" for s in subs) or (
            "no subscriptions")
    if type_ == "aws_cloudwatch_metric_alarm":
        alarms = client.describe_alarms(AlarmNames=[attrs["alarm_name"]])["MetricAlarms"]
        if not alarms:
            raise LookupError("no such alarm")
        a = alarms[0]
        metric = a.get("MetricName") or "metric math"  # error rates: a math expression
        return a["AlarmName"], f"{metric} {a.get('ComparisonOperator')} {a.get('Threshold')}"
    return _read_service_part(client, type_, attrs)


def _read_service_part(client: Any, type_: str, attrs: dict[str, Any]) -> tuple[str, str]:
    if type_ == "aws_ecs_service":
        found = client.describe_services(cluster=attrs["cluster"],
                                         services=[attrs["name"]])["services"]
        if not found or found[0].get("status") != "ACTIVE":
            raise LookupError("no such ECS service")
        svc = found[0]
        definition = svc.get("taskDefinition", "").rsplit("/", 1)[-1]
        return svc["serviceName"], f"{definition}  desired {svc.get('desiredCount')}"
    if type_ == "aws_lb":
        lb = client.describe_load_balancers(LoadBalancerArns=[attrs["arn"]])["LoadBalancers"][0]
        return lb["LoadBalancerName"], f"{lb.get('Scheme', '')}  {lb.get('DNSName', '')}"
    if type_ == "aws_lb_listener_rule":
        rule = client.describe_rules(RuleArns=[attrs["arn"]])["Rules"][0]
        groups = [g for a in rule.get("Actions", [])
                  for g in (a.get("ForwardConfig") or {}).get("TargetGroups", [])]
        # targetgroup ARN: arn:...:targetgroup/<name>/<id>
        return f"priority {rule.get('Priority')}", ", ".join(sorted(
            f"{g['TargetGroupArn'].split('/')[-2]} {g.get('Weight')}" for g in groups))
    if type_ == "aws_apigatewayv2_api":
        api = client.get_api(ApiId=attrs["id"])
        return api["Name"], api.get("ApiEndpoint", "")
    raise KeyError(type_)


def inventory(app: App | None, doc: dict[str, Any], workdir: Path, endpoint: str,
              region: str) -> tuple[list[Row], Counter, list[Diagnostic]]:
    """Rows for the listed kinds, counts of the other types, and W602 for missing ones."""
    from botocore.exceptions import BotoCoreError, ClientError

    get = clients(endpoint, region)
    rows: list[Row] = []
    others: Counter = Counter()
    diagnostics: list[Diagnostic] = []
    for res in state_resources(workdir):
        type_, attrs = res["type"], res["attributes"]
        if type_ not in KINDS:
            others[type_] += 1
            continue
        kind, service = KINDS[type_]
        address = f"{type_}.{res['name']}"
        who = owner(app, doc, address) if app is not None else None
        label = f"{who[0]} {who[1]}" if who else "shared"
        try:
            name, details = _read(get(service), type_, attrs)
            rows.append(Row(kind, name, label, details))
        except (ClientError, BotoCoreError, LookupError, KeyError) as exc:
            name = str(attrs.get("name") or attrs.get("function_name") or attrs.get("family")
                       or attrs.get("alarm_name") or res["name"])
            rows.append(Row(kind, name, label, "missing", found=False))
            diagnostics.append(Diagnostic(
                "W602", f"`{address}` is in the Terraform state, but the local cloud has no "
                f"{kind} `{name}` ({type(exc).__name__})",
                who[2] if who else None, "run `flowc up` again to create it again"))
    rows.sort(key=lambda r: (ORDER.index(r.kind), r.owner, r.name))
    return rows, others, diagnostics


def render(rows: list[Row], others: Counter) -> Any:
    """A rich Table of the rows (plus a caption counting roles, log groups, keys, ...)."""
    from rich.table import Table

    table = Table(title="Created in the local cloud", title_justify="left", expand=False)
    for column in ("kind", "name", "belongs to", "details"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = None if row.found else "red"
        table.add_row(row.kind, row.name, row.owner, row.details, style=style)
    if others:
        short = Counter()
        for type_, n in others.items():
            short[type_.removeprefix("aws_")] += n
        table.caption = "and " + ", ".join(f"{n} {t}" for t, n in sorted(short.items()))
        table.caption_justify = "left"
    return table
