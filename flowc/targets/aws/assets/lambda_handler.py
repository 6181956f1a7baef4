"""flowc's AWS Lambda entry point (shipped in every python task's zip as flowc_handler.py).

Before the first run in a container it reads each `FLOWC_SECRET_<NAME>` environment
variable (a Secrets Manager ARN), fetches the secret's value and sets it as `<NAME>`,
so task code reads secrets from the same env var names on every target. Then it
imports `FLOWC_ENTRYPOINT` ("module:function") and calls the function with no
arguments, or with the event (and context) when it takes them, as the emulator does: a
task's schedule sends `{"input": ...}` when the task has an `input`. An exception fails
the invocation, so Lambda retries it and, after the last attempt, sends it to the task's
dead-letter queue.

`overlap = skip`: the schedule also sends `"flowc": {"fire": <scheduled time>,
"start_within_s": N}`, taken out of the event before the task sees it; flowc_fire.py
drops a fire that starts too late (a run was in flight) with a `skipped` log line and a
success, so Lambda neither retries nor dead-letters it.
"""

import importlib
import os

from flowc_fire import skipped

SECRET_PREFIX = "FLOWC_SECRET_"
_ready = False


def _resolve_secrets():
    wanted = {
        key[len(SECRET_PREFIX):]: arn
        for key, arn in os.environ.items()
        if key.startswith(SECRET_PREFIX) and arn
    }
    if not wanted:
        return
    import boto3  # in the Lambda runtime; imported only when secrets are bound

    client = boto3.client("secretsmanager")
    for name in sorted(wanted):
        os.environ[name] = client.get_secret_value(SecretId=wanted[name])["SecretString"]


def _required(function):
    """How many positional parameters without a default the task's function takes."""
    import inspect

    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return 0
    return sum(1 for p in params if p.default is p.empty
               and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def handler(event, context):
    global _ready
    task = os.environ.get("FLOWC_TASK", "")
    fire = (event.pop("flowc", None) if isinstance(event, dict) else None) or {}
    if skipped(task, fire.get("fire"), fire.get("start_within_s"),
               getattr(context, "aws_request_id", None)):  # the same id on Lambda's retries
        return {"task": task, "status": "skipped"}
    if not _ready:
        _resolve_secrets()
        _ready = True
    module, _, function = os.environ["FLOWC_ENTRYPOINT"].partition(":")
    target = getattr(importlib.import_module(module), function)
    wanted = _required(target)  # as the emulator: (event, context) to a function that takes them
    target(*[event, context][:wanted])
    return {"task": task, "status": "succeeded"}
