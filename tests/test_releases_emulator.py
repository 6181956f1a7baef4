"""The emulator honours `canary`: with a canary in force a share of fires runs the new code
and the rest the previous code (from its snapshot), within a binomial bound; every run
reports its `version` in events and in `flowc runs`; the canary ends after `for`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.compiler import ir
from flowc.compiler.pipeline import LoadResult
from flowc.deploy.localcloud import free_port
from flowc.emulator.cloud import Cloud
from flowc.emulator.history import list_runs
from flowc.emulator.session import Options, Session
from flowc.emulator.versions import Versions
from tests.emulator_support import RecordingView, make_app, make_task, unique

START = datetime(2026, 1, 5, 0, 0, 0, tzinfo=UTC)

MARKING_JOB = '''
import os

def main():
    with open(os.path.join(os.environ["OUT_DIR"], os.environ["FLOWC_RUN_ID"]), "w") as f:
        f.write("{marker}")
'''


def write_job(base: Path, marker: str) -> None:
    (base / "jobs").mkdir(parents=True, exist_ok=True)
    (base / "jobs" / "__init__.py").write_text("")
    (base / "jobs" / "main.py").write_text(MARKING_JOB.replace("{marker}", marker))


def within_binomial(hits: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    """|hits - np| <= 5 standard deviations: fails by chance about once in 1.7 million."""
    return abs(hits - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def canary_task(percent: float, lasts_s: int, **kw) -> ir.Task:
    return make_task("job", "main", release=ir.Release(canary_percent=percent,
                                                        canary_for_s=lasts_s), **kw)


# -- the chooser ------------------------------------------------------------------------------

def test_canary_share_is_binomial_and_the_stable_runs_use_the_previous_code(tmp_path):
    write_job(tmp_path, "A")
    app = make_app(tmp_path, canary_task(30, 3600))
    versions = Versions(tmp_path / ".flowc", "t", random.Random(1234))
    assert versions.update(app, START) == []  # version 1: nothing to be a canary against
    write_job(tmp_path, "B")
    [message] = versions.update(app, START + timedelta(minutes=1))
    assert "version 2; canary 30% against version 1" in message
    n, picks = 4000, []
    for i in range(n):
        picks.append(versions.choose(app.tasks[0], START + timedelta(minutes=2, seconds=i / 10)))
    canary = [c for c in picks if c.canary]
    assert within_binomial(len(canary), n, 0.30), len(canary)
    assert {c.version for c in canary} == {2} and {c.version for c in picks} == {1, 2}
    stable_dir = next(c.code_dir for c in picks if c.version == 1)
    new_dir = canary[0].code_dir
    assert 'f.write("A")' in (stable_dir / "jobs" / "main.py").read_text()
    assert 'f.write("B")' in (new_dir / "jobs" / "main.py").read_text()
    # after `for` the new version is promoted and runs from the task's own directory
    after = versions.choose(app.tasks[0], START + timedelta(minutes=1, seconds=3600))
    assert (after.version, after.code_dir, after.canary) == (2, None, False)


def test_versions_survive_a_restart_and_a_newer_version_replaces_the_canary(tmp_path):
    write_job(tmp_path, "A")
    app = make_app(tmp_path, canary_task(50, 3600))
    Versions(tmp_path / ".flowc", "t").update(app, START)
    write_job(tmp_path, "B")
    restarted = Versions(tmp_path / ".flowc", "t", random.Random(5))
    [message] = restarted.update(app, START)
    assert "version 2; canary 50% against version 1" in message
    write_job(tmp_path, "C")
    [message] = restarted.update(app, START + timedelta(minutes=5))
    assert "version 3; canary 50% against version 1" in message
    seen = {restarted.choose(app.tasks[0], START + timedelta(minutes=6)).version
            for _ in range(200)}
    assert seen == {1, 3}
    plain = dataclasses.replace(app.tasks[0], release=ir.Release())
    write_job(tmp_path, "D")
    restarted.update(dataclasses.replace(app, tasks=(plain,)), START + timedelta(minutes=7))
    assert {restarted.choose(plain, START + timedelta(minutes=8)).version
            for _ in range(50)} == {4}  # without a canary a new version is live at once


# -- a whole session: many virtual runs --------------------------------------------------------


@pytest.fixture(scope="module")
def cloud():
    c = Cloud.start(environ={"LOCALSTACK_HOST": f"127.0.0.1:{free_port()}"})
    yield c
    c.stop()


def _session(tmp_path: Path, app, cloud, **opts) -> tuple[Session, RecordingView]:
    view = RecordingView()
    options = Options(spec=tmp_path / "app.flow", start=START, state_dir=tmp_path / ".flowc",
                      events=tmp_path / "events.jsonl", watch=False, grace=5.0, **opts)
    return Session(options, view, loader=lambda p, env=None: LoadResult(app),
                   cloud=cloud), view


def test_dev_runs_the_canary_share_of_fires_with_the_new_code(tmp_path, cloud, monkeypatch):
    out = tmp_path / "marks"
    out.mkdir()
    monkeypatch.setenv("OUT_DIR", str(out))
    write_job(tmp_path, "A")
    app = make_app(tmp_path, canary_task(25, 86400), name=unique("canary"))
    first, _ = _session(tmp_path, app, cloud)
    assert first.open() == 0
    assert first.run_once("job").version == 1
    first.close()
    write_job(tmp_path, "B")  # a release while flowc dev was not running
    session, view = _session(tmp_path, app, cloud, speed=6000, run_for=160 * 60)
    assert session.open() == 0
    session.start()
    try:
        assert session.wait(threading.Event())
    finally:
        session.close(drain=True, grace=20)
    assert "version 2; canary 25% against version 1" in view.text()
    runs = [e for e in view.collector.named("scheduled", "job")]
    assert len(runs) == 160
    marks = {p.name: p.read_text() for p in out.iterdir()}
    done = view.collector.named("succeeded", "job")
    assert len(done) == 160
    for event in done:  # the version each run reports is the code it ran
        assert marks[event["run_id"]] == {1: "A", 2: "B"}[event["version"]]
    new = sum(1 for e in runs if e["version"] == 2)
    assert within_binomial(new, 160, 0.25), new
    history = {r["run_id"]: r["version"] for r in list_runs(tmp_path / ".flowc")}
    assert all(history[e["run_id"]] == e["version"] for e in runs)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert all("version" in e for e in events if e["event"] in ("scheduled", "started",
                                                                 "succeeded"))
    listed = CliRunner().invoke(cli, ["runs", "--state", str(tmp_path / ".flowc"),
                                      "--limit", "3"])
    assert listed.output.splitlines()[0].split()[-1] == "VERSION"
    assert all(line.split()[-1] in ("1", "2") for line in listed.output.splitlines()[1:])
