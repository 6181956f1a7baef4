"""flowc's AWS Lambda entry point (shipped in every python task's zip as flowc_handler.py).

Before the first run in a container it reads each `FLOWC_SECRET_<NAME>` environment
variable (a Secrets Manager ARN), fetches the secret's value and sets it as `<NAME>`,
so task code reads secrets from the same env var names on every target. Then it
imports `FLOWC_ENTRYPOINT` ("module:function") and calls the function with no
arguments. An exception fails the invocation, so Lambda retries it and, after the
last attempt, sends it to the task's dead-letter queue.
"""

import importlib
import os

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


def handler(event, context):
    global _ready
    if not _ready:
        _resolve_secrets()
        _ready = True
    module, _, function = os.environ["FLOWC_ENTRYPOINT"].partition(":")
    getattr(importlib.import_module(module), function)()
    return {"task": os.environ.get("FLOWC_TASK", ""), "status": "succeeded"}
