"""Operations settings (SPEC §6): the language, what each target makes of them (validated
against the providers' schemas, `terraform validate` and kubernetes-validate), and the
emulator honouring them (overlap, pause, jitter, input, from/until, back-off, max_age)."""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import kubernetes_validate
import pytest
import yaml
from aws_support import terraform_validate
from provider_schema import provider_schema
from target_apps import compile_target, resources

from flowc.compiler import ir
from flowc.compiler.pipeline import load, load_text
from flowc.emulator.executor import jitter_delay, retry_delay
from flowc.targets.aws import operations as aws_ops
from flowc.targets.k8s import operations as k8s_ops
from flowc.targets.operations import START_WINDOW_FLOOR_S
from flowc.targets.rules import target_rules
from tests.emulator_support import RecordingView, every, make_app, make_task, unique, write_jobs
from tests.test_emulator_session import cloud, make_session  # noqa: F401 - the fixture

SPEC = """\
app opsx

defaults {
  python_version = "3.11"
}

task nightly {
  python        = "jobs.daily:main"
  schedule      = [{ schedule = "Mon..Fri 09:00", from = "2027-01-01", until = "2027-06-30" },
                   "Sat 10:00"]
  timezone      = "Europe/Berlin"
  overlap       = allow
  catch_up      = 1h
  jitter        = 5m
  input         = { source = "crm", full = false, limit = 10, tags = ["a"], more = { x = null } }
  retry_backoff = 30s
  max_age       = 2h
  from          = "2026-12-01"
  on_failure    = dead_letter
}

task paused {
  python   = "jobs.digest:main"
  schedule = every 1h
  enabled  = false
  overlap  = replace
  targets  = [k8s]
}

task box {
  image    = "busybox:1.36"
  schedule = cron("*/15 * * * *")
  input    = { mode = "full" }
  targets  = [gcp, k8s]
}

environment prod {
  gcp { project = "acme-prod"  region = "europe-west1" }
}
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    base = tmp_path_factory.mktemp("ops")
    (base / "jobs").mkdir()
    for name in ("__init__", "daily", "digest"):
        (base / "jobs" / f"{name}.py").write_text("def main():\n    return 0\n")
    (base / "app.flow").write_text(SPEC)
    result = load(base / "app.flow", "prod")
    assert result.ok, result.diagnostics
    return result.app, base


def test_every_setting_reaches_the_ir_with_its_layers(spec):
    app, _ = spec
    nightly, paused, box = app.tasks
    assert (nightly.overlap, nightly.catch_up_s, nightly.jitter_s, nightly.retry_backoff_s,
            nightly.max_age_s, nightly.python_version) == ("allow", 3600, 300, 30, 7200, "3.11")
    assert json.loads(nightly.input) == {"source": "crm", "full": False, "limit": 10,
                                         "tags": ["a"], "more": {"x": None}}
    # the first entry has its own window; the second takes the task's `from`
    assert nightly.windows == (ir.Window("2027-01-01", "2027-06-30"), ir.Window("2026-12-01"))
    assert (paused.enabled, paused.overlap, paused.python_version) == (False, "replace", "3.11")
    assert (box.overlap, box.enabled, box.jitter_s, box.catch_up_s) == ("skip", True, 0, 0)


def test_an_environment_can_pause_every_task(tmp_path):
    (tmp_path / "app.flow").write_text(
        'task t {\n  image = "busybox"\n  schedule = daily\n}\n'
        "environment staging {\n  enabled = false\n}\n")
    assert load(tmp_path / "app.flow").app.tasks[0].enabled is True
    assert load(tmp_path / "app.flow", "staging").app.tasks[0].enabled is False


@pytest.mark.parametrize("line,code,needle", [
    ('  schedule = [{ at = "daily" }]\n', "E124", "unknown key `at`"),
    ('  from = "2027-06-30"\n  until = "2027-01-01"\n', "E142", "is before `from`"),
    ("  input = { a = 1, a = 2 }\n", "E141", "`a` is set twice"),
    ("  input = [1]\n", "E109", "expects an object"),
    ("  max_age = 30s\n", "E144", "between 1m and 7d"),
])  # fmt: skip
def test_bad_values_are_diagnostics_with_a_fix(line, code, needle):
    schedule = "" if "schedule" in line else '  schedule = "daily"\n'
    text = 'task t {\n  image = "busybox"\n' + schedule + line + "}\n"
    result = load_text(text, "app.flow")
    found = [d for d in result.diagnostics if d.code == code]
    assert found and needle in found[0].message and found[0].help and found[0].span


def test_compiled_for_every_target_and_valid(spec, tmp_path):
    app, _ = spec
    nightly, paused, box = app.tasks
    diagnostics, aws = compile_target(app, "aws", tmp_path)
    assert not [d for d in diagnostics if d.is_error], diagnostics
    schedules = resources(aws, "aws_scheduler_schedule")
    first = next(b for k, b in schedules.items() if k.startswith("nightly"))
    assert first["flexible_time_window"] == [{"mode": "FLEXIBLE", "maximum_window_in_minutes": 5}]
    assert first["state"] == "ENABLED"
    starts = sorted((b.get("start_date"), b.get("end_date")) for b in schedules.values())
    # Berlin midnight is 23:00 UTC in winter, 22:00 in summer; `until` includes its day
    assert starts == [("2026-11-30T23:00:00Z", None),
                      ("2026-12-31T23:00:00Z", "2027-06-30T22:00:00Z")]
    assert json.loads(first["target"][0]["input"]) == {"input": json.loads(nightly.input)}
    assert first["target"][0]["retry_policy"][0]["maximum_event_age_in_seconds"] == 7200
    (fn,) = resources(aws, "aws_lambda_function").values()
    assert fn["runtime"] == "python3.11" and "reserved_concurrent_executions" not in fn
    assert fn["environment"][0]["variables"]["FLOWC_INPUT"] == nightly.input
    (invoke,) = resources(aws, "aws_lambda_function_event_invoke_config").values()
    assert invoke["maximum_event_age_in_seconds"] == 7200
    report = terraform_validate(tmp_path / "aws", tmp_path)
    assert report["valid"], report["diagnostics"]

    diagnostics, gcp = compile_target(app, "gcp", tmp_path)
    assert not [d for d in diagnostics if d.is_error], diagnostics
    jobs = resources(gcp, "google_cloud_scheduler_job")
    assert {b["retry_config"]["min_backoff_duration"] for k, b in jobs.items()
            if "nightly" in k} == {"30s"}
    assert {b["retry_config"]["max_retry_duration"] for k, b in jobs.items()
            if "nightly" in k} == {"7200s"}
    (fn,) = resources(gcp, "google_cloudfunctions2_function").values()
    assert fn["build_config"]["runtime"] == "python311"
    assert fn["service_config"]["environment_variables"]["FLOWC_INPUT"] == nightly.input
    (job,) = resources(gcp, "google_cloud_run_v2_job").values()
    env = job["template"]["template"]["containers"][0]["env"]
    assert {"name": "FLOWC_INPUT", "value": box.input} in env
    assert provider_schema("google").check_document(gcp) == []

    diagnostics, k8s = compile_target(app, "k8s", tmp_path)
    assert not [d for d in diagnostics if d.is_error], diagnostics
    manifests = list(yaml.safe_load_all((tmp_path / "k8s" / "manifests.yaml").read_text()))
    crons = {m["metadata"]["name"]: m["spec"] for m in manifests if m["kind"] == "CronJob"}
    by_task = {t: spec for name, spec in crons.items() for t in ("paused", "nightly", "box")
               if f"-{t}-" in name}
    assert by_task["paused"]["suspend"] is True
    assert by_task["paused"]["concurrencyPolicy"] == "Replace"
    assert by_task["nightly"]["concurrencyPolicy"] == "Allow"
    assert by_task["nightly"]["startingDeadlineSeconds"] == 3600  # catch_up
    assert by_task["box"]["concurrencyPolicy"] == "Forbid"  # skip, the default
    assert by_task["box"]["startingDeadlineSeconds"] == START_WINDOW_FLOOR_S
    pod = by_task["nightly"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "python:3.11-slim"
    bound = by_task["nightly"]["jobTemplate"]["spec"]["activeDeadlineSeconds"]
    assert bound == k8s_ops.k8s_job_deadline(nightly, bound)  # 3 timeouts + back-off < 2h + 5m
    assert k8s_ops.k8s_job_deadline(dataclasses.replace(nightly, max_age_s=600), bound) == 900
    for m in manifests:
        kubernetes_validate.validate(m, "1.30.0", strict=True)
    assert provider_schema("kubernetes").check_document(k8s) == []


def test_what_a_target_cannot_do_is_said_by_check_and_compile(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    pass\n")
    (tmp_path / "app.flow").write_text(
        'task t {\n  python = "jobs.main:main"\n  schedule = "daily"\n  overlap = replace\n'
        "  max_age = 7d\n  jitter = 90s\n  retry_backoff = 1m\n"
        '  from = "2027-01-01"\n}\n')
    app = load(tmp_path / "app.flow").app
    found = {t: sorted({d.code for d in ds}) for t, ds in target_rules(app).items() if ds}
    assert found == {"aws": ["E470", "E471", "W471", "W474"], "gcp": ["E470", "W472", "W473"],
                     "k8s": ["W472", "W473", "W474"]}
    assert aws_ops.reserved_concurrency(dataclasses.replace(app.tasks[0], overlap="skip")) == 1


# -- the emulator ------------------------------------------------------------------------

START = datetime(2026, 1, 5, 8, 59, 30, tzinfo=UTC)
WORK = """
import json, os, sys, time

def slow():
    time.sleep(float(os.environ.get("SLEEP", "1.5")))

def show(event, context=None):
    print("input", os.environ.get("FLOWC_INPUT"), json.dumps(event.get("input")))

def fail():
    sys.exit(4)
"""


def session_for(tmp_path, cloud, *tasks, name=None, **opts):  # noqa: F811 - the fixture's
    write_jobs(tmp_path)
    (tmp_path / "jobs" / "ops.py").write_text(WORK)
    app = make_app(tmp_path, *tasks, name=name or unique("ops"))
    session, view = make_session(tmp_path, app, cloud, **opts)
    assert session.open() == 0
    return session, view


def events(view: RecordingView, name: str, task: str | None = None) -> list[dict]:
    return view.collector.named(name, task)


def test_overlap_skip_replace_allow_and_a_paused_task(tmp_path, cloud):  # noqa: F811
    def slow(name, every_s="2s", **kw):
        # runs take 3 real seconds, fires come every 2 (1 for the skipper): runs take real
        # time at any speed
        return make_task(name, "slow", handler=ir.PythonHandler("jobs.ops", "slow"),
                         schedules=(every(every_s),), env=(ir.EnvVar("SLEEP", "3"),), **kw)

    session, view = session_for(
        tmp_path, cloud, slow("skipper", "1s", overlap="skip"),
        slow("replacer", overlap="replace"), slow("allower", overlap="allow"),
        slow("off", enabled=False), speed=1.0)
    session.start()
    try:
        view.collector.wait(lambda: len(events(view, "scheduled", "replacer")) >= 3
                            and len(events(view, "succeeded", "skipper")) >= 2, timeout=40)
    finally:
        session.close(grace=1)
    # skip: a fire during a run waits for it and starts when it ends (within the start
    # window), late; a second fire during the same run replaces the waiting one, skipped
    assert {e["reason"] for e in events(view, "skipped", "skipper")} == {"overlap"}
    assert all(e["running"] for e in events(view, "skipped", "skipper"))
    held = [e for e in events(view, "scheduled", "skipper") if e.get("held_s")]
    assert held and all(0 < e["held_s"] <= START_WINDOW_FLOOR_S for e in held)
    from flowc.emulator.history import list_runs

    spans = sorted((r["started_at"], r["finished_at"]) for r in list_runs(
        tmp_path / ".flowc", task="skipper") if r["finished_at"])
    assert len(spans) >= 2 and all(a[1] <= b[0] for a, b in pairwise(spans))
    assert [e["reason"] for e in events(view, "skipped", "off")] and not events(
        view, "started", "off")
    assert not events(view, "skipped", "allower") and not events(view, "skipped", "replacer")
    starts = [e["at"] for e in events(view, "started", "allower")]
    assert len(starts) >= 2  # a new run started while the last was still running
    runs = [r for r in list_runs(tmp_path / ".flowc", task="replacer")]
    replaced = [r for r in runs if r["error"] and "replaced" in r["error"]]
    assert replaced and all(r["status"] == "interrupted" for r in replaced)


def test_a_held_fire_past_its_start_window_is_skipped_not_run(tmp_path, cloud):  # noqa: F811
    """The start window decides what a run that ends (now) releases: within catch_up (at
    least a minute) plus jitter the held fire starts then; past it the fire is skipped."""
    from flowc.emulator.clock import iso
    from flowc.emulator.executor import Held

    task = make_task("held", "ok", schedules=(every("1d"),), catch_up_s=120)
    jittered = make_task("jit", "ok", schedules=(every("1d"),), catch_up_s=120, jitter_s=60)
    session, view = session_for(tmp_path, cloud, task, jittered)
    session.start()
    release, now = session.executor._release, session.clock.now()
    release(Held(session.app, task, now - timedelta(seconds=121), ["r0"]), now)
    assert [e["reason"] for e in events(view, "skipped", "held")] == ["overlap"]
    assert not events(view, "scheduled", "held")
    release(Held(session.app, task, now - timedelta(seconds=90), ["r0"]), now)
    view.collector.wait(lambda: events(view, "succeeded", "held"), timeout=20)
    (scheduled,) = events(view, "scheduled", "held")
    assert scheduled["held_s"] == 90 and scheduled["at"] == iso(now - timedelta(seconds=90))
    assert events(view, "started", "held")[0]["at"] >= iso(now)
    # the jitter a fire may be delayed by widens its window (as on aws)
    release(Held(session.app, jittered, now - timedelta(seconds=150), ["r1"]), now)
    view.collector.wait(lambda: events(view, "succeeded", "jit"), timeout=20)
    assert not events(view, "skipped", "jit")
    session.close(grace=1)


def test_jitter_is_reproducible_from_the_seed_and_within_the_window():
    task = make_task("j", jitter_s=300)
    fires = [datetime(2026, 1, 5, h, tzinfo=UTC) for h in range(24)]
    first = [jitter_delay(task, f, 7) for f in fires]
    assert first == [jitter_delay(task, f, 7) for f in fires]
    assert first != [jitter_delay(task, f, 8) for f in fires]
    assert all(0 <= d <= 300 for d in first) and len(set(first)) > 10
    assert jitter_delay(make_task("none"), fires[0], 7) == 0


def test_retry_backoff_doubles_from_the_setting():
    assert [retry_delay(n) for n in (1, 2, 3)] == [10, 20, 40]
    assert [retry_delay(n, 30) for n in (1, 2, 3, 5, 9)] == [30, 60, 120, 360, 360]
    assert retry_delay(1, 600) == 600


def test_input_windows_and_max_age_in_the_emulator(tmp_path, cloud):  # noqa: F811
    show = make_task("show", handler=ir.PythonHandler("jobs.ops", "show"),
                     schedules=(every("1m"),), input='{"source":"crm"}',
                     windows=(ir.Window(None, "2026-01-05"),))
    late = make_task("late", handler=ir.PythonHandler("jobs.ops", "show"),
                     schedules=(every("1m"),), windows=(ir.Window("2026-01-06"),))
    failing = make_task("failing", handler=ir.PythonHandler("jobs.ops", "fail"),
                        schedules=(every("1d"),), retries=5, retry_backoff_s=600,
                        max_age_s=900, on_failure="dead_letter")
    session, view = session_for(tmp_path, cloud, show, late, failing, speed=600.0,
                                start=datetime(2026, 1, 5, 23, 57, 30, tzinfo=UTC))
    session.start()
    try:
        view.collector.wait(lambda: events(view, "dead_lettered", "failing"), timeout=40)
    finally:
        session.close(grace=1)
    # `until = 2026-01-05`: fires up to 23:59 that day, none after midnight
    fired = [e["at"][:16] for e in events(view, "scheduled", "show")]
    assert fired and all(at.startswith("2026-01-05T23:5") for at in fired), fired
    assert not events(view, "scheduled", "late") or all(
        e["at"] >= "2026-01-06" for e in events(view, "scheduled", "late"))
    assert ("show", "stdout", 'input {"source":"crm"} {"source": "crm"}') in view.collector.lines
    # back-off 600s: the third attempt would start 1200s after the fire, past max_age 900s
    assert [e["attempt"] for e in events(view, "failed", "failing")] == [1, 2]


def test_python_version_other_than_the_emulators_is_W520(tmp_path, cloud):  # noqa: F811
    other = "3.10" if sys.version_info[:2] != (3, 10) else "3.11"
    session, view = session_for(tmp_path, cloud, make_task("v", python_version=other))
    session.close(grace=0)
    code = "W520"
    assert any(f"warning[{code}]" in m and other in m for m in view.messages)


def test_catch_up_runs_the_latest_fire_missed_while_flowc_was_down(tmp_path, cloud):  # noqa: F811
    hourly = make_task("hourly", schedules=(every("30m"),), catch_up_s=3600)
    never = make_task("never", schedules=(every("30m"),))
    name = unique("catch")
    first, _ = session_for(tmp_path, cloud, hourly, never, name=name, speed=600.0,
                           start=datetime(2026, 1, 5, 8, 0, 30, tzinfo=UTC))
    first.start()
    first.close(grace=1)  # down from about 08:00 (virtual) ...
    second, view = session_for(tmp_path, cloud, hourly, never, name=name, speed=600.0,
                               start=datetime(2026, 1, 5, 11, 10, tzinfo=UTC))  # ... to 11:10
    second.start()
    try:
        view.collector.wait(lambda: events(view, "succeeded", "hourly"), timeout=30)
    finally:
        second.close(grace=1)
    missed = {(e["task"], e["at"][11:16]) for e in events(view, "missed")}
    assert {("hourly", "10:30"), ("never", "11:00"), ("hourly", "09:00")} <= missed
    # within the hour before 11:10: 10:30 and 11:00; the latest runs, once
    assert [e["at"][11:16] for e in events(view, "scheduled", "hourly")][:1] == ["11:00"]
    assert not events(view, "scheduled", "never")  # catch_up = 0: missed stays missed


def test_dev_keys_pause_and_resume_a_task(tmp_path, cloud):  # noqa: F811
    from flowc.emulator.view import task_for_key

    assert [task_for_key(k, ["a", "b"]) for k in "120x"] == ["a", "b", None, None]
    session, view = session_for(tmp_path, cloud, make_task("k"), speed=60.0)
    try:
        session.start_executor()
        app, moment = session.app, datetime(2026, 1, 5, 9, tzinfo=UTC)
        assert session.toggle_pause("k") is True
        session.executor.submit(app, app.task("k"), moment)
        assert [e["reason"] for e in events(view, "skipped", "k")] == ["paused"]
        assert session.toggle_pause("k") is False
        session.executor.submit(app, app.task("k"), moment)
        view.collector.wait(lambda: events(view, "succeeded", "k"), timeout=20)
    finally:
        session.close(grace=1)
    assert "flowc dev: task `k` paused" in view.text()


def test_unenforced_skip_on_image_tasks_is_one_W475_on_gcp_in_check_and_compile(tmp_path):
    """Cloud Run jobs start every fire: one warning per app naming the image tasks left on
    `skip`, the same from `flowc check` and `flowc compile`; silenced by `overlap = allow`
    on them or `# flowc: allow W475`. AWS has none: its overlap guard enforces `skip`."""
    from typer.testing import CliRunner

    from flowc.cli import app as cli

    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    pass\n")
    image = 'task {name} {{\n  image = "busybox:1.36"\n  schedule = "daily"\n{extra}}}\n'
    python = 'task py {\n  python = "jobs.main:main"\n  schedule = "daily"\n}\n'

    def warnings(text: str) -> tuple[list[str], list[str]]:
        spec = tmp_path / "app.flow"
        spec.write_text(text)
        check = CliRunner().invoke(cli, ["check", str(spec)])
        compiled = CliRunner().invoke(cli, ["compile", str(spec), "--out", str(tmp_path / "out"),
                                            "--state", str(tmp_path / "st")])
        assert check.exit_code == 0 and compiled.exit_code == 0, (check.output, compiled.output)
        return tuple([line for line in out.output.splitlines() if "warning[W475]" in line]
                     for out in (check, compiled))

    both = python + image.format(name="a", extra="") + image.format(name="b", extra="")
    checked, compiled = warnings(both)
    assert checked == compiled and len(checked) == 1  # gcp, once; aws guards the tasks
    assert all("`a`, `b`" in line and "on gcp" in line for line in checked)
    one_allows = python + image.format(name="a", extra="  overlap = allow\n") + image.format(
        name="b", extra="")
    checked, _ = warnings(one_allows)
    assert len(checked) == 1 and all("`b`" in line and "`a`" not in line for line in checked)
    assert warnings("# flowc: allow W475\n" + both) == ([], [])
    assert warnings(python + image.format(name="a", extra="  overlap = allow\n")) == ([], [])
