"""Instant start (issue 16): `flowc run` and `flowc dev` share one warm embedded AWS
server (flowc/emulator/warmcloud.py) instead of each starting moto, and nothing waits for
it until it is needed, yet a failed run still reaches its dead-letter queue there.

These run the real CLI and the real moto server (one per state directory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from localstack_client.config import parse_localstack_host as library_parse

from flowc.deploy.localcloud import parse_localstack_host
from flowc.emulator import warmcloud
from flowc.emulator.cloud import dlq_name
from flowc.emulator.session import default_loader
from tests.emulator_support import unique, write_jobs

FLOWC = str(Path(sys.executable).parent / "flowc")
SPEC = """\
app {name}

task bad {{
  python = "jobs.main:fail"
  schedule = every 1h
}}

task ok {{
  python = "jobs.main:ok"
  schedule = every 1h
}}
"""


def flowc(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([FLOWC, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=90, env=dict(os.environ, **env))  # fmt: skip


def server(directory: Path) -> dict:
    return json.loads((directory / warmcloud.RECORD).read_text())


def test_a_failed_run_reaches_its_queue_in_the_warm_server_and_the_next_run_reuses_it(
    tmp_path,
):
    warm_cloud_dir = tmp_path / "st" / "cloud"
    write_jobs(tmp_path)
    name = unique("warm")
    (tmp_path / "app.flow").write_text(SPEC.format(name=name))
    bad = flowc(tmp_path, "run", "app.flow", "bad", "--state", "st", "--no-retries")
    assert bad.returncode == 3, bad.stderr
    assert "dead_lettered" in bad.stderr
    first = server(warm_cloud_dir)
    assert warmcloud._is_ours(first["pid"])  # it outlives the command that started it
    sqs = boto3.client("sqs", endpoint_url=first["endpoint"], region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    app = default_loader(tmp_path / "app.flow").app
    url = sqs.get_queue_url(QueueName=dlq_name(app, "bad"))["QueueUrl"]
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]  # fmt: skip
    assert [b["exit_code"] for b in bodies if b["task"] == "bad"] == [3]
    good = flowc(tmp_path, "run", "app.flow", "ok", "--state", "st")
    assert good.returncode == 0, good.stderr
    assert server(warm_cloud_dir)["pid"] == first["pid"]  # reused, not started again
    assert not list((warm_cloud_dir / warmcloud.CLIENTS).glob("*"))  # leases released
    warmcloud.stop(warm_cloud_dir)


def test_the_server_stops_by_itself_when_idle_and_no_session_holds_a_lease(tmp_path):
    env = dict(os.environ, FLOWC_CLOUD_IDLE="0.5")
    started = warmcloud.ensure(tmp_path / "state", env)
    tmp_path = tmp_path / "state" / "cloud"
    try:
        started.wait()
        started.release()  # `ensure` leased it to this test process
        (tmp_path / warmcloud.CLIENTS).mkdir(exist_ok=True)
        (tmp_path / warmcloud.CLIENTS / "999999999").write_text("gone")  # a dead session
        deadline = time.monotonic() + 30
        while warmcloud._is_ours(started.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not warmcloud._is_ours(started.pid)
        assert not (tmp_path / warmcloud.RECORD).exists()
    finally:
        warmcloud.stop(tmp_path)


@pytest.mark.parametrize("given", ["127.0.0.1:4566", "localhost", "host:1234", ":99", " h :7"])
def test_localstack_host_is_read_as_localstack_client_reads_it(given):
    assert parse_localstack_host(given) == library_parse(given)
