"""`flowc dev` with services, as a user runs it: a real process, real HTTP, code rewritten
on disk while a client loops requests; `--only` picks what runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from flowc.deploy.localcloud import free_port
from flowc.emulator.events import read_events
from tests.emulator_support import wait_until

APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{version}"]
'''
SPEC = """app shop
service web {{
  python = "web.main:app"
  port   = {port}
  health = "/health"
}}
task tick {{
  python = "web.jobs:tick"
  schedule = every 1h
}}
"""
FLOWC = [str(Path(sys.executable).parent / "flowc")]


def write_code(base: Path, version: str) -> Path:
    path = base / "web" / "main.py"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(APP.format(version=version))
    os.replace(tmp, path)  # as editors save: the server never imports half a file
    return path


def test_rewriting_the_code_twenty_times_under_a_request_loop(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "jobs.py").write_text("def tick():\n    pass\n")
    write_code(tmp_path, "v0")
    port = free_port()
    (tmp_path / "app.flow").write_text(SPEC.format(port=port))
    events = tmp_path / "events.jsonl"
    proc = subprocess.Popen(
        [*FLOWC, "dev", "app.flow", "--plain", "--events", str(events), "--only", "web"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        urls = wait_until(lambda: _read_json(tmp_path / ".flowc" / "services.json"), 60)
        url = urls["web"] + "/"
        assert url == f"http://127.0.0.1:{port}/"  # the declared port, stable
        wait_until(lambda: [e for e in read_events(events) if e["event"] == "service_ready"])
        failures, answers, done = [], [], threading.Event()

        def loop() -> None:
            while not done.is_set():
                try:
                    with urllib.request.urlopen(url, timeout=10) as response:
                        answers.append(response.read().decode())
                except OSError as exc:
                    failures.append(repr(exc))

        client = threading.Thread(target=loop)
        client.start()
        try:
            for n in range(1, 21):
                write_code(tmp_path, f"v{n}")
                wait_until(lambda n=n: _count(events, "service_stopped") >= n)
        finally:
            done.set()
            client.join()
        assert failures == []
        assert answers[-1] == "v20" and len(set(answers)) > 5
        names = [e["event"] for e in read_events(events)]
        assert "started" not in names  # --only web: the task does not run
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert f"service `web` at http://127.0.0.1:{port}" in output


def test_only_an_unknown_name_is_a_diagnostic(tmp_path):
    (tmp_path / "web").mkdir()
    write_code(tmp_path, "v0")
    (tmp_path / "app.flow").write_text(SPEC.format(port=free_port()))
    done = subprocess.run([*FLOWC, "dev", "app.flow", "--only", "wbe"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert "E506" in done.stdout + done.stderr and "did you mean `web`" in (
        done.stdout + done.stderr)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _count(events: Path, name: str) -> int:
    return sum(e["event"] == name for e in read_events(events))
