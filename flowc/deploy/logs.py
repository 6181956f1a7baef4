"""`flowc logs --deployed`: the CloudWatch log groups of the tasks `flowc up` deployed.

The log groups are found in the stack's Terraform state (each belongs to a task by its
`task` tag) and read from the local cloud through boto3, oldest event first.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from flowc.compiler.ir import App
from flowc.deploy import localcloud
from flowc.deploy.inventory import clients, state_resources
from flowc.deploy.runner import root_dir, stack_dir
from flowc.diagnostics import Diagnostic, render_text
from flowc.targets.aws import TARGET as AWS

FOLLOW_POLL_S = 2.0


def log_groups(app: App, state: Path, task: str | None) -> dict[str, str]:
    """task -> log group name, from the stack's Terraform state."""
    groups = {}
    for res in state_resources(stack_dir(state, app.stack_name) / "aws"):
        if res["type"] != "aws_cloudwatch_log_group":
            continue
        owner = (res["attributes"].get("tags") or {}).get("task")
        if owner and (task is None or owner == task):
            groups[owner] = res["attributes"]["name"]
    return groups


def show_deployed(app: App, state: Path, task: str | None, since: datetime | None,
                  follow: bool) -> int:
    """Print the events; the exit code (1 when nothing is deployed or the cloud is gone)."""
    groups = log_groups(app, state, task)
    cloud = localcloud.recorded(root_dir(state))
    problem = None
    if not groups:
        problem = Diagnostic("E523", f"no log group of {f'task `{task}`' if task else 'any task'}"
                             f" is deployed for {app.stack_name} under {state}/", None,
                             "run `flowc up` first (only tasks on aws have log groups)")
    elif cloud is None or not localcloud.alive(cloud):
        problem = Diagnostic("E601", f"the local cloud that holds {app.stack_name} does not "
                             "answer", None, "run `flowc up` again to start it")
    if problem is not None:
        sys.stderr.write(render_text([problem]))
        return 1
    assert cloud is not None
    logs = clients(cloud.endpoint, AWS.settings_of(app).region)("logs")
    start = int((since or datetime.fromtimestamp(0, UTC)).timestamp() * 1000)
    seen: set[str] = set()
    while True:
        for name, group in sorted(groups.items()):
            kwargs = {"logGroupName": group, "startTime": start}
            while True:
                page = logs.filter_log_events(**kwargs)
                for event in page.get("events", []):
                    if event["eventId"] in seen:
                        continue
                    seen.add(event["eventId"])
                    when = datetime.fromtimestamp(event["timestamp"] / 1000, UTC)
                    print(f"{when.isoformat(timespec='milliseconds')[:23]} {name} "
                          f"{event.get('logStreamName', '')} | {event['message'].rstrip()}",
                          flush=True)  # fmt: skip
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        if not follow:
            return 0
        try:
            time.sleep(FOLLOW_POLL_S)
        except KeyboardInterrupt:
            return 0
