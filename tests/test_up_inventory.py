"""The table `flowc up` prints is read back from the cloud (a real moto server), not from
Terraform's state: a resource the state lists but the cloud lacks is W602."""

from __future__ import annotations

import json

import boto3
import pytest
from moto.server import ThreadedMotoServer
from rich.console import Console

from flowc.deploy.inventory import inventory, render

REGION = "eu-central-1"


@pytest.fixture(scope="module")
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")


def _state(workdir, resources):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "terraform.tfstate").write_text(json.dumps({"version": 4, "resources": [
        {"mode": mode, "type": type_, "name": name, "instances": [{"attributes": attrs}]}
        for mode, type_, name, attrs in resources]}))


def test_rows_come_from_the_cloud_and_missing_ones_are_W602(endpoint, tmp_path):
    sqs = _client("sqs", endpoint)
    sqs.create_queue(QueueName="inv-job-dlq", Attributes={"MessageRetentionPeriod": "1209600"})
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="inv-job-dlq")["QueueUrl"],
                     MessageBody="a failed run")
    _client("secretsmanager", endpoint).create_secret(Name="inv-token", SecretString="x")
    _client("scheduler", endpoint).create_schedule(
        Name="inv-job", ScheduleExpression="cron(0 9 ? * MON-FRI *)",
        ScheduleExpressionTimezone="Europe/Berlin", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:lambda:eu-central-1:123456789012:function:inv-job",
                "RoleArn": "arn:aws:iam::123456789012:role/inv-job"})
    work = tmp_path / "aws"
    _state(work, [
        ("managed", "aws_sqs_queue", "job_dlq", {"name": "inv-job-dlq"}),
        ("managed", "aws_secretsmanager_secret", "token_secret", {"name": "inv-token"}),
        ("managed", "aws_scheduler_schedule", "job_schedule_0",
         {"name": "inv-job", "group_name": "default"}),
        ("managed", "aws_lambda_function", "job_function", {"function_name": "inv-gone"}),
        ("managed", "aws_iam_role", "job_role", {"name": "inv-job"}),
        ("data", "aws_region", "region", {"name": REGION}),
    ])
    rows, others, diagnostics = inventory(None, {}, work, endpoint, REGION)
    by_kind = {r.kind: r for r in rows}
    assert by_kind["schedule"].details.startswith("cron(0 9 ? * MON-FRI *)  Europe/Berlin")
    assert by_kind["queue"].name == "inv-job-dlq"
    assert by_kind["queue"].details.startswith("1 messages  kept 14d")
    assert by_kind["secret"].details == "value set"
    assert not by_kind["function"].found and by_kind["function"].name == "inv-gone"
    assert dict(others) == {"aws_iam_role": 1}
    assert [d.code for d in diagnostics] == ["W602"]
    assert "aws_lambda_function.job_function" in diagnostics[0].message
    assert diagnostics[0].help

    console = Console(width=200, record=True)
    console.print(render(rows, others))
    text = console.export_text()
    assert "inv-job-dlq" in text and "Europe/Berlin" in text and "1 iam_role" in text


def test_no_state_means_no_rows(endpoint, tmp_path):
    rows, others, diagnostics = inventory(None, {}, tmp_path / "none", endpoint, REGION)
    assert (rows, dict(others), diagnostics) == ([], {}, [])
