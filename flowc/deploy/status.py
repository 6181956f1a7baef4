"""`flowc status`: what `flowc up` deployed, per task, read back from the local cloud.

For each task of the stack's Terraform state: its schedules (expression, timezone,
ENABLED/DISABLED), its function's published versions and where its alias points (with
a canary's weight), its ECS task definition revision, and how many messages wait in its
dead-letter queue. Resource owners come from the compiled document (blame.owner).
Services get a table of their own: per service, what `flowc up`'s table shows for it
(ECS services with their task definition, load balancer, traffic weights, HTTP API,
function), read back the same way (inventory.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App
from flowc.deploy.blame import owner
from flowc.deploy.inventory import Row, clients, inventory, state_resources


@dataclass
class TaskStatus:
    schedules: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)  # function versions or task definition
    alias: str = ""
    dead_letters: int | None = None
    missing: list[str] = field(default_factory=list)  # in the state, not in the cloud


def _alias(lam: Any, attrs: dict[str, Any]) -> str:
    a = lam.get_alias(FunctionName=attrs["function_name"], Name=attrs["name"])
    weights = (a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    canary = ", ".join(f"{v} at {w:.0%}" for v, w in weights.items())
    return f"{a['Name']} -> {a['FunctionVersion']}" + (f" (canary {canary})" if canary else "")


def _read(get: Any, type_: str, attrs: dict[str, Any], into: TaskStatus) -> None:
    if type_ == "aws_scheduler_schedule":
        s = get("scheduler").get_schedule(Name=attrs["name"],
                                          GroupName=attrs.get("group_name") or "default")
        zone = s.get("ScheduleExpressionTimezone", "UTC")
        into.schedules.append(f"{s['ScheduleExpression']} {zone} {s.get('State', '')}".rstrip())
    elif type_ == "aws_lambda_function":
        lam = get("lambda")
        versions = [v["Version"] for v in lam.list_versions_by_function(
            FunctionName=attrs["function_name"])["Versions"] if v["Version"] != "$LATEST"]
        into.code.append(f"{attrs['function_name']} versions {', '.join(versions) or 'none'}")
    elif type_ == "aws_lambda_alias":
        into.alias = _alias(get("lambda"), attrs)
    elif type_ == "aws_ecs_task_definition":
        td = get("ecs").describe_task_definition(taskDefinition=attrs["arn"])["taskDefinition"]
        into.code.append(f"{td['family']}:{td.get('revision')}")
    elif type_ == "aws_sqs_queue":
        sqs = get("sqs")
        url = sqs.get_queue_url(QueueName=attrs["name"])["QueueUrl"]
        depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]
        into.dead_letters = (into.dead_letters or 0) + int(depth)


READ = ("aws_scheduler_schedule", "aws_lambda_function", "aws_lambda_alias",
        "aws_ecs_task_definition", "aws_sqs_queue")


def status(app: App, doc: dict[str, Any], workdir: Path, endpoint: str,
           region: str) -> dict[str, TaskStatus]:
    """task name -> what the cloud holds for it, in the spec's task order."""
    from botocore.exceptions import BotoCoreError, ClientError

    get = clients(endpoint, region)
    found: dict[str, TaskStatus] = defaultdict(TaskStatus)
    for res in state_resources(workdir):
        if res["type"] not in READ:
            continue
        who = owner(app, doc, f"{res['type']}.{res['name']}")
        if who is None or who[0] != "task":
            continue
        try:
            _read(get, res["type"], res["attributes"], found[who[1]])
        except (ClientError, BotoCoreError, KeyError) as exc:
            found[who[1]].missing.append(f"{res['type']}.{res['name']} ({type(exc).__name__})")
    order = [t.name for t in app.tasks]
    return {name: found[name] for name in sorted(found, key=lambda n: (
        order.index(n) if n in order else len(order), n))}


def render(rows: dict[str, TaskStatus], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left", expand=False)
    for column in ("task", "schedules", "code", "alias", "dead letters"):
        table.add_column(column, overflow="fold")
    for task, s in rows.items():
        code = "\n".join(s.code + [f"missing: {m}" for m in s.missing])
        table.add_row(task, "\n".join(s.schedules) or "-", code or "-", s.alias or "-",
                      "-" if s.dead_letters is None else str(s.dead_letters),
                      style="red" if s.missing else None)
    return table


def services(app: App, doc: dict[str, Any], workdir: Path, endpoint: str,
             region: str) -> list[Row]:
    """What the cloud holds for the spec's services (inventory rows, missing ones too)."""
    rows, _, _ = inventory(app, doc, workdir, endpoint, region)
    return [r for r in rows if r.owner.startswith("service ")]


def render_services(rows: list[Row]) -> Any:
    from rich.table import Table

    table = Table(title="Services", title_justify="left", expand=False)
    for column in ("service", "kind", "name", "details"):
        table.add_column(column, overflow="fold")
    for row in sorted(rows, key=lambda r: r.owner):  # stable: inventory's order per service
        table.add_row(row.owner.removeprefix("service "), row.kind, row.name,
                      row.details if row.found else "missing",
                      style=None if row.found else "red")
    return table
