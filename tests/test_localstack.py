"""The emulator against a real LocalStack (and a real dockerd): what `flowc dev` provisions
there and what its runs leave there, read back with boto3.

LocalStack is the session's (tests/components_support.py), on its own loopback port;
`LOCALSTACK_HOST` points flowc at it, as a user's shell would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3

from tests.emulator_support import unique

FLOWC = str(Path(sys.executable).parent / "flowc")

SPEC = """
app {app}
secret db_url
task report {{
  python = "jobs.main:report"
  schedule = every 1m
  env {{ DB_URL = secret.db_url }}
  targets = [k8s]
}}
task broken {{
  image = "{image}"
  command = ["sh", "-c", "{script}"]
  schedule = every 1m
  on_failure = dead_letter
  alert errors > 0 notify "ops@example.com"
  targets = [k8s]
}}
"""

SCRIPT = ("wget -qO- $AWS_ENDPOINT_URL/_localstack/health >/dev/null && echo reached-aws; "
          "echo failing >&2; exit 4")
JOBS = """
import os

def report():
    print("db", os.environ["DB_URL"])
"""


def aws(service: str, url: str):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def receive(sqs, queue_url: str, timeout: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
        if messages:
            return messages
    return []


def test_flowc_dev_provisions_and_uses_localstack(tmp_path, localstack_host, docker_host,
                                                  busybox_image):
    app = unique("ls")
    (tmp_path / "app.flow").write_text(SPEC.format(app=app, image=busybox_image, script=SCRIPT))
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").touch()
    (tmp_path / "jobs" / "main.py").write_text(JOBS)
    sqs, sns = aws("sqs", localstack_host), aws("sns", localstack_host)
    # an SQS queue subscribed to the alert topic flowc creates (create_topic is idempotent)
    topic = sns.create_topic(Name=f"{app}-broken-alert-0")["TopicArn"]
    inbox = sqs.create_queue(QueueName=f"{app}-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)

    done = subprocess.run(
        [FLOWC, "dev", "app.flow", "--plain", "--no-watch", "--speed", "600", "--for", "30s",
         "--start", "2026-01-05T09:00:45+00:00", "--state", ".flowc"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "FLOWC_SECRET_DB_URL": "postgres://from-localstack"},
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"AWS: localstack at {localstack_host}" in output
    assert "report | db postgres://from-localstack" in output
    assert "broken | reached-aws" in output  # the container reached LocalStack on loopback

    secret = aws("secretsmanager", localstack_host).get_secret_value(SecretId=f"{app}-db_url")
    assert secret["SecretString"] == "postgres://from-localstack"

    dlq = sqs.get_queue_url(QueueName=f"{app}-broken-dlq")["QueueUrl"]
    letters = [json.loads(m["Body"]) for m in receive(sqs, dlq)]
    assert letters and letters[0]["task"] == "broken" and letters[0]["exit_code"] == 4
    assert "failing" in letters[0]["stderr_tail"]

    alerts = [json.loads(m["Body"]) for m in receive(sqs, inbox)]
    assert alerts and alerts[0]["TopicArn"] == topic and "broken" in alerts[0]["Message"]


# -- flowc up / down against LocalStack: one Terraform round trip, kept small (no queue: the
# provider waits ~25 s after creating one; test_up_e2e.py covers queues against moto) ----

UP_SPEC = """
app {app}
secret token
task nightly {{
  python = "jobs.main:main"
  schedule = "daily"
  env {{ TOKEN = secret.token }}
  alert errors > 0 notify "ops@example.com"
  targets = [aws]
}}
"""


def test_up_applies_what_localstack_can_and_down_destroys_it(tmp_path, localstack_host):
    app = unique("up")
    (tmp_path / "app.flow").write_text(UP_SPEC.format(app=app))
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").touch()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    print('hi')\n")
    env = {**os.environ, "COLUMNS": "200"}
    up = subprocess.run([FLOWC, "up", "app.flow"], cwd=tmp_path, capture_output=True,
                        text=True, timeout=400, env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"Using LocalStack at {localstack_host}" in up.stdout + up.stderr
    assert up.stderr.count("warning[W603]") == 1 and "task `nightly`" in up.stderr
    assert "Lambda functions cannot become Active offline" in up.stderr
    sns, sm = aws("sns", localstack_host), aws("secretsmanager", localstack_host)

    def topics() -> list[str]:
        arns = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
        return [arn for arn in arns if arn.rsplit(":", 1)[1].startswith(app)]

    assert topics() == [f"arn:aws:sns:us-east-1:000000000000:{app}-nightly-alerts"]
    assert sm.describe_secret(SecretId=f"{app}-token")["Name"] == f"{app}-token"
    functions = aws("lambda", localstack_host).list_functions()["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith(app)]

    down = subprocess.run([FLOWC, "down", "app.flow"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=400, env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert topics() == []
    secrets = sm.list_secrets()["SecretList"]
    assert not [s for s in secrets if s["Name"].startswith(app)]
