"""The emulator in-process against a real embedded moto server (no boto3 mocks):
retries then dead letter, secrets, alerts, Docker missing, hot reload, clean shutdown.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flowc.compiler.ir import Alert, EnvVar, ImageHandler, SecretRef
from flowc.compiler.pipeline import LoadResult
from flowc.deploy.localcloud import free_port
from flowc.emulator.cloud import Cloud, dlq_name, secret_id
from flowc.emulator.history import list_runs
from flowc.emulator.session import Options, Session, default_loader
from tests.emulator_support import (
    RecordingView,
    make_app,
    make_task,
    processes_with,
    shown,
    unique,
    write_jobs,
)

START = datetime(2026, 1, 5, 8, 59, 58, tzinfo=UTC)



@pytest.fixture(scope="module")
def cloud():
    """One embedded moto server for this module (LocalStack deliberately not looked for)."""
    c = Cloud.start(environ={"LOCALSTACK_HOST": f"127.0.0.1:{free_port()}"})
    assert c.kind == "moto"
    yield c
    c.stop()


def make_session(tmp_path: Path, app, cloud, speed=120.0, watch=False, load=None, **opts):
    write_jobs(tmp_path)
    view = RecordingView()
    options = Options(
        spec=tmp_path / "app.flow", speed=speed, start=opts.pop("start", START),
        state_dir=tmp_path / ".flowc", events=tmp_path / "events.jsonl", watch=watch,
        grace=opts.pop("grace", 2.0), **opts,
    )  # fmt: skip
    session = Session(options, view, loader=load or (lambda p, env=None: LoadResult(app)),
                      cloud=cloud)  # fmt: skip
    return session, view


def test_failed_run_is_retried_then_its_record_is_really_in_the_dead_letter_queue(
    tmp_path, cloud
):
    app = make_app(tmp_path, make_task("flaky", "fail", retries=2, on_failure="dead_letter"),
                   name=unique("dlq"))  # fmt: skip
    session, view = make_session(tmp_path, app, cloud, speed=600)
    assert session.open() == 0
    session.start()
    try:
        events = view.collector
        events.wait(lambda: events.named("dead_lettered"), timeout=20)
    finally:
        session.close(grace=1)
    run = events.named("dead_lettered")[0]["run_id"]
    kinds = [e["event"] for e in events.events if e.get("run_id") == run]
    assert kinds == ["scheduled", "started", "failed", "retried", "started", "failed",
                     "retried", "started", "failed", "dead_lettered"]  # fmt: skip
    failed = [e for e in events.events if e["event"] == "failed" and e["run_id"] == run]
    assert [f["final"] for f in failed] == [False, False, True]
    assert all(f["exit_code"] == 3 for f in failed)
    retried = [e for e in events.events if e["event"] == "retried" and e["run_id"] == run]
    gap = (datetime.fromisoformat(retried[0]["at"])
           - datetime.fromisoformat(failed[0]["at"])).total_seconds()  # fmt: skip
    assert 10 <= gap < 40  # the 10s back-off, in virtual time
    sqs = cloud.client("sqs")
    url = sqs.get_queue_url(QueueName=dlq_name(app, "flaky"))["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    bodies = [json.loads(m["Body"]) for m in messages]
    body = next(b for b in bodies if b["run_id"] == run)
    assert body["task"] == "flaky" and body["attempts"] == 3 and body["exit_code"] == 3
    assert "boom: disk full" in body["stderr_tail"]
    row = next(r for r in list_runs(tmp_path / ".flowc") if r["run_id"] == run)
    assert row["status"] == "dead_lettered" and row["attempts"] == 3
    assert row["dead_letter_message_id"] == events.named("dead_lettered")[0]["message_id"]


def test_secret_reaches_the_task_through_the_emulators_secret_store(tmp_path, cloud, monkeypatch):
    monkeypatch.setenv("FLOWC_SECRET_DB_URL", "postgres://from-env")
    (tmp_path / ".flowc-secrets").write_text("api_key = k-from-file\n")
    task = make_task("reader", "secret", env=(EnvVar("DB_URL", SecretRef("db_url")),
                                              EnvVar("API_KEY", SecretRef("api_key"))))
    app = make_app(tmp_path, task, name=unique("sec"), secrets=("db_url", "api_key"))
    session, view = make_session(tmp_path, app, cloud)
    assert session.open() == 0
    try:
        outcome = session.run_once("reader")
    finally:
        session.close()
    assert outcome.status == "succeeded", view.text()
    assert ("reader", "stdout", "secret=postgres://from-env") in view.collector.lines
    sm = cloud.client("secretsmanager")
    assert sm.get_secret_value(SecretId=secret_id(app, "api_key"))["SecretString"] == "k-from-file"


def test_secret_without_a_value_warns_W501_and_the_run_fails_to_start_E503(tmp_path, cloud):
    task = make_task("reader", "secret", env=(EnvVar("DB_URL", SecretRef("nowhere")),))
    app = make_app(tmp_path, task, name=unique("nosec"), secrets=("nowhere",))
    session, view = make_session(tmp_path, app, cloud)
    assert session.open() == 0
    assert shown("W501") in view.text() and "FLOWC_SECRET_NOWHERE" in view.text()
    assert "; tasks that read it will fail" in view.text()  # no service reads it
    try:
        outcome = session.run_once("reader")
    finally:
        session.close()
    assert outcome.status == "failed" and outcome.attempts == 1  # not retried
    assert shown("E503") in view.text()
    failed = view.collector.named("failed")[0]
    assert failed["final"] is True and "nowhere" in failed["error"]


def test_failure_without_on_failure_stays_in_history_and_warns_W502(tmp_path, cloud):
    app = make_app(tmp_path, make_task("lost", "fail"), name=unique("w502"))
    session, view = make_session(tmp_path, app, cloud)
    assert session.open() == 0
    try:
        outcome = session.run_once("lost")
    finally:
        session.close()
    assert outcome.status == "failed" and outcome.exit_code == 3
    assert shown("W502") in view.text() and "on_failure = discard" in view.text()
    assert not view.collector.named("dead_lettered")
    [row] = list_runs(tmp_path / ".flowc", task="lost")
    assert row["status"] == "failed" and "boom" in row["stderr_tail"]


def test_alert_in_alarm_publishes_to_its_sns_topic(tmp_path, cloud):
    alert = Alert("errors", ">", 0, ("ops@acme.example",))
    app = make_app(tmp_path, make_task("noisy", "fail", alerts=(alert,)), name=unique("alert"))
    session, view = make_session(tmp_path, app, cloud)
    assert session.open() == 0 and session.settle_cloud() == 0
    [topic] = cloud.report.topics["noisy"]
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    inbox = sqs.create_queue(QueueName=unique("inbox"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
    try:
        session.run_once("noisy")
        session.run_once("noisy")  # still in alarm: no second notification
    finally:
        session.close()
    messages = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 1
    assert "errors > 0" in json.loads(messages[0]["Body"])["Message"]
    assert "notified ops@acme.example" in view.text()


def test_image_task_without_docker_is_a_per_task_error_and_python_tasks_go_on(
    tmp_path, cloud, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    image = make_task("img", handler=ImageHandler("busybox:1.36", ("echo", "hi")))
    app = make_app(tmp_path, image, make_task("py", "ok"), name=unique("img"))
    session, view = make_session(tmp_path, app, cloud, speed=600)
    assert session.open() == 0
    session.start()
    try:
        c = view.collector
        c.wait(lambda: len(c.named("failed", "img")) >= 2 and len(c.named("succeeded", "py")) >= 2)
    finally:
        session.close(grace=1)
    failed = c.named("failed", "img")[0]
    assert failed["final"] is True and "no Docker engine is reachable" in failed["error"]
    assert view.text().count(shown("E502")) == 1  # the full diagnostic once per task


def test_close_stops_runs_in_flight_with_no_orphan_processes(tmp_path, cloud):
    marker = unique("flowc-orphan-")
    pidfile = tmp_path / "pids"
    task = make_task("stuck", "spawn", timeout_s=600,
                     env=(EnvVar("MARKER", marker), EnvVar("PIDFILE", str(pidfile))))
    app = make_app(tmp_path, task, name=unique("stop"))
    session, view = make_session(tmp_path, app, cloud, speed=60)
    assert session.open() == 0
    session.start()
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(processes_with(marker)) == 1  # the grandchild runs
    began = time.monotonic()
    session.close(grace=0.5)
    assert time.monotonic() - began < 6
    assert processes_with(marker) == []
    failed = view.collector.named("failed", "stuck")
    assert failed and failed[0]["interrupted"] is True
    statuses = {r["status"] for r in list_runs(tmp_path / ".flowc", task="stuck")}
    assert statuses == {"interrupted"}


def test_loader_crash_is_reported_as_E505_not_a_traceback(tmp_path, cloud):
    def broken(path, env=None):
        raise RuntimeError("front end bug")

    session, view = make_session(tmp_path, None, cloud, load=broken)
    assert session.open() == 1
    session.close()
    assert shown("E505") in view.text() and "front end bug" in view.text()


def test_state_directory_that_cannot_be_written_is_E508(tmp_path, cloud):
    app = make_app(tmp_path, make_task("a"), name=unique("e508"))
    session, view = make_session(tmp_path, app, cloud)
    session.options.state_dir = tmp_path / "a-file"
    session.options.state_dir.write_text("not a directory")
    assert session.open() == 1
    session.close()
    assert shown("E508") in view.text() and "--state" in view.text()


def test_unreachable_aws_endpoint_is_E507(tmp_path):
    dead = Cloud(f"http://127.0.0.1:{free_port()}", "external")
    app = make_app(tmp_path, make_task("a", on_failure="dead_letter"), name=unique("e507"))
    session, view = make_session(tmp_path, app, dead)
    assert session.open() == 0  # provisioning runs in the background...
    assert session.start() == 1  # ...and `flowc dev` waits for it before the first fire
    session.close()
    assert view.text().count(shown("E507")) == 1


def _spec(name: str, greeting: str, tick: str) -> str:
    return (
        f"app {name}\n\n"
        "task tick {\n"
        '  python   = "jobs.main:ok"\n'
        f"  schedule = every {tick}\n"
        f'  env {{ GREETING = "{greeting}" }}\n'
        "}\n\n"
        "task long {\n"
        '  python   = "jobs.main:slow"\n'
        "  schedule = every 1m\n"
        '  env { SLEEP = "1.2" }\n'
        "}\n"
    )


def test_hot_reload_of_spec_and_code_and_a_broken_edit_keeps_the_last_good_spec(
    tmp_path, cloud
):
    name = unique("reload")
    spec = tmp_path / "app.flow"
    write_jobs(tmp_path)
    spec.write_text(_spec(name, "v1", "1m"))
    session, view = make_session(tmp_path, None, cloud, speed=120, watch=True,
                                 load=default_loader)
    assert session.open() == 0, view.text()
    session.start()
    c = view.collector
    try:
        c.wait(lambda: ("tick", "stdout", "ok v1") in c.lines)
        c.wait(lambda: c.named("started", "long"))
        in_flight = c.named("started", "long")[-1]["run_id"]
        # 1. a good edit of the spec: new env and a new schedule
        spec.write_text(_spec(name, "v2", "2m"))
        c.wait(lambda: c.named("reloaded"))
        reloaded = c.named("reloaded")[0]
        assert reloaded["changes"]["changed"] == ["tick"]
        assert reloaded["changes"]["rescheduled"] == ["tick"]
        assert reloaded["latency_ms"] < 500
        assert datetime.fromisoformat(reloaded["next"]["tick"]).minute % 2 == 0
        c.wait(lambda: ("tick", "stdout", "ok v2") in c.lines)
        # the run in flight during the reload was not killed
        c.wait(lambda: any(e["run_id"] == in_flight for e in c.named("succeeded", "long")))
        # 2. an edit of the code: the next run runs the new code
        (tmp_path / "jobs" / "main.py").write_text(
            (tmp_path / "jobs" / "main.py").read_text().replace('print("ok"', 'print("ok2"')
        )
        c.wait(lambda: len(c.named("reloaded")) >= 2)
        assert c.named("reloaded")[1]["files"] == ["jobs/main.py"]
        c.wait(lambda: ("tick", "stdout", "ok2 v2") in c.lines)
        # 3. a broken edit: diagnostics, reload_failed, the last good spec keeps running
        spec.write_text(_spec(name, "v3", "2m").replace("task long {", "task long {{"))
        c.wait(lambda: c.named("reload_failed"))
        failed_at = datetime.fromisoformat(c.named("reload_failed")[0]["at"])
        assert "task" not in c.named("reload_failed")[0]
        assert c.named("reload_failed")[0]["diagnostics"][0]["code"].startswith("E0")
        c.wait(lambda: len([e for e in c.named("scheduled", "tick")
                            if datetime.fromisoformat(e["at"]) > failed_at]) >= 2)  # fmt: skip
    finally:
        session.close(grace=1)
    assert "error[E0" in view.text()
    assert "still running the last good spec" in view.text()
    ticks = [datetime.fromisoformat(e["at"]) for e in c.named("scheduled", "tick")]
    after = [t for t in ticks if t > datetime.fromisoformat(reloaded["at"])]
    assert len(after) >= 3 and all(t.minute % 2 == 0 and t.second == 0 for t in after)
    assert all((b - a).total_seconds() == 120 for a, b in zip(after, after[1:], strict=False))
    assert not any(("tick", "stdout", "ok v3") == line for line in c.lines)



def test_W501_names_services_when_only_services_read_the_secret(tmp_path):
    from flowc.compiler.pipeline import load_text
    from flowc.emulator.session import _readers

    text = ('secret db\nservice web {\n  image = "ghcr.io/acme/web:1"\n'
            '  env { DB = secret.db }\n}\n')
    app = load_text(text, str(tmp_path / "s.flow")).app
    assert _readers(app, "db") == "services"
