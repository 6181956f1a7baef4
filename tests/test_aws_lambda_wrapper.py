"""The Lambda wrapper shipped in every python task's zip, run against moto's server: bound
secrets reach the task as the env var names the spec declares, then module:function runs."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import os
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowc.deploy.localcloud import free_port
from flowc.targets.aws import operations as aws_ops
from flowc.targets.aws.lambda_function import LAMBDA_HANDLER_FILE, handler_files
from flowc.targets.compile import compile_app
from flowc.targets.operations import FIRE_FILE
from tests.aws_support import aws_app
from tests.emulator_support import make_task

HANDLER = Path(__file__).resolve().parent.parent / "flowc" / "targets" / "aws" / "assets" / \
    "lambda_handler.py"



@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def shipped(tmp_path_factory, monkeypatch):
    """The wrapper's files as a zip ships them, importable; flowc_fire's /tmp record of
    started fires kept in a temporary directory."""
    where = tmp_path_factory.mktemp("wrapper")
    for name, data in handler_files().items():
        (where / name).write_bytes(data)
    monkeypatch.syspath_prepend(str(where))
    sys.modules.pop(FIRE_FILE.removesuffix(".py"), None)
    import flowc_fire

    monkeypatch.setattr(flowc_fire, "STARTED_DIR", str(where / "started"))
    yield where
    sys.modules.pop(FIRE_FILE.removesuffix(".py"), None)


def _load_handler():
    spec = importlib.util.spec_from_file_location("flowc_handler_under_test", HANDLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wrapper_resolves_secrets_then_calls_the_task(tmp_path, monkeypatch, moto_endpoint):
    import boto3

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "eu-central-1",
                       "AWS_ENDPOINT_URL": moto_endpoint}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="reports-prod-db_url", SecretString="postgres://x")["ARN"]
    (tmp_path / "taskmod.py").write_text(
        "import os, pathlib\n\n\ndef main():\n"
        "    pathlib.Path(os.environ['OUT']).write_text(os.environ['DB_URL'])\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("OUT", str(tmp_path / "seen.txt"))
    monkeypatch.setenv("FLOWC_ENTRYPOINT", "taskmod:main")
    monkeypatch.setenv("FLOWC_TASK", "daily_report")
    monkeypatch.setenv("FLOWC_SECRET_DB_URL", arn)
    monkeypatch.delenv("DB_URL", raising=False)
    handler = _load_handler()
    assert handler.handler({}, None) == {"task": "daily_report", "status": "succeeded"}
    assert (tmp_path / "seen.txt").read_text() == "postgres://x"
    sys.modules.pop("taskmod", None)


def test_wrapper_lets_task_errors_fail_the_invocation(tmp_path, monkeypatch):
    (tmp_path / "failing.py").write_text("def main():\n    raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FLOWC_ENTRYPOINT", "failing:main")
    for key in [k for k in os.environ if k.startswith("FLOWC_SECRET_")]:
        monkeypatch.delenv(key)
    with pytest.raises(RuntimeError, match="boom"):
        _load_handler().handler({}, None)
    sys.modules.pop("failing", None)


def test_the_zip_holds_the_wrapper_and_the_task_code(tmp_path):
    spec = aws_app(tmp_path / "src")
    compile_app(spec, ["aws"], tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "aws" / "cdk.tf.json").read_text())
    zip_name = doc["resource"]["aws_lambda_function"]["digest_function"]["filename"]
    with zipfile.ZipFile(io.BytesIO((tmp_path / "out" / "aws" / zip_name).read_bytes())) as zf:
        names = zf.namelist()
        assert zf.read(LAMBDA_HANDLER_FILE) == HANDLER.read_bytes()
    assert names == sorted(names)
    # the task's own module and package, not another task's (per-task packages)
    assert {"jobs/__init__.py", "jobs/digest.py", LAMBDA_HANDLER_FILE, FIRE_FILE} <= set(names)
    assert "jobs/daily.py" not in names


def test_wrapper_hands_the_event_to_a_function_that_takes_it(tmp_path, monkeypatch):
    (tmp_path / "eventmod.py").write_text(
        "seen = []\n\ndef main(event, context=None):\n    seen.append(event['input'])\n\n"
        "def bare():\n    seen.append('bare')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FLOWC_TASK", "t")
    wrapper = _load_handler()
    import eventmod

    for entry in ("eventmod:main", "eventmod:bare"):
        monkeypatch.setenv("FLOWC_ENTRYPOINT", entry)
        wrapper.handler({"input": {"source": "crm"}}, None)
    assert eventmod.seen == [{"source": "crm"}, "bare"]


class Context:
    """What the wrapper reads of Lambda's context: the request id, the same on retries."""

    def __init__(self, request_id: str):
        self.aws_request_id = request_id


def _ago(seconds: int) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_overlap_skip_drops_a_fire_that_starts_past_its_window(tmp_path, monkeypatch, capsys):
    """The event a `skip` schedule sends (aws_target_input, with EventBridge's scheduled
    time filled in): on time the task runs and sees only its input; held past the window
    (Lambda retried the throttled fire after the last run) it is skipped as a success,
    logged; a retry of a fire that started (same request id) still runs."""
    (tmp_path / "skipmod.py").write_text(
        "seen = []\n\ndef main(event, context=None):\n    seen.append(dict(event))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FLOWC_TASK", "sync")
    monkeypatch.setenv("FLOWC_ENTRYPOINT", "skipmod:main")
    task = make_task("sync", input='{"source": "crm"}', catch_up_s=0, overlap="skip")
    sent = aws_ops.aws_target_input(task)
    assert aws_ops.SCHEDULED_TIME in sent
    window = json.loads(sent)["flowc"]["start_within_s"]
    assert window == 60  # catch_up 0: the floor every target shares

    def fire(ago: int) -> dict:
        return json.loads(sent.replace(aws_ops.SCHEDULED_TIME, _ago(ago)))

    wrapper = _load_handler()
    import skipmod

    assert wrapper.handler(fire(5), Context("on-time")) == {"task": "sync",
                                                             "status": "succeeded"}
    assert skipmod.seen == [{"input": {"source": "crm"}}]  # no "flowc" key reaches the task
    capsys.readouterr()
    assert wrapper.handler(fire(window + 30), Context("held")) == {"task": "sync",
                                                                   "status": "skipped"}
    assert len(skipmod.seen) == 1
    line = capsys.readouterr().out.strip()
    assert line.startswith("flowc: skipped ")
    record = json.loads(line.removeprefix("flowc: skipped "))
    assert record["task"] == "sync" and record["late_s"] >= window + 30
    # Lambda retries a failed attempt with the same request id, minutes later: it runs
    assert wrapper.handler(fire(window + 200), Context("on-time"))["status"] == "succeeded"
    assert len(skipmod.seen) == 2
    # ... also after a timeout re-initialised the runtime (memory lost, /tmp kept)
    import flowc_fire

    flowc_fire._started.clear()
    assert wrapper.handler(fire(window + 300), Context("on-time"))["status"] == "succeeded"
    assert wrapper.handler(fire(window + 300), Context("never-started"))["status"] == "skipped"
    assert len(skipmod.seen) == 3
    # a scheduler that does not fill in the time (an emulated one): the fire runs
    assert wrapper.handler(json.loads(sent), Context("raw"))["status"] == "succeeded"
    # `allow` sends no fire: a late manual or retried event always runs
    allow = aws_ops.aws_target_input(dataclasses.replace(task, overlap="allow"))
    assert json.loads(allow) == {"input": {"source": "crm"}}
    sys.modules.pop("skipmod", None)


def test_the_start_window_counts_catch_up_and_the_flexible_window():
    task = make_task("w", catch_up_s=3600, jitter_s=300, overlap="skip")
    assert json.loads(aws_ops.aws_target_input(task))["flowc"]["start_within_s"] == 3600 + 300
    assert aws_ops.aws_target_input(make_task("x", overlap="allow")) is None
