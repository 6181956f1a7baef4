"""The emulator's service supervisor against real processes and real HTTP.

Each test runs a tiny WSGI or ASGI app (no framework) as a real process behind the real
proxy and drives it with urllib: reloads while a client loops, a reload that never gets
healthy, a crash and its restart, a worker.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from flowc.emulator.services import Services, ServiceSpec, Timing

FAST = Timing(ready_s=5.0, probe_every_s=0.02, backoff_first_s=0.1, backoff_max_s=0.5,
              stable_s=60.0, drain_s=5.0, grace_s=2.0)  # fmt: skip

WSGI = """
import os, time
VERSION = {version!r}

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/crash":
        os._exit(3)
    if path != "/health":
        time.sleep(0.01)  # requests are in flight when the proxy switches
    status = "200 OK" if {healthy!r} or path != "/health" else "500 Internal Server Error"
    start_response(status, [("Content-Type", "text/plain")])
    return [VERSION.encode()]
"""

ASGI = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"asgi " + scope["path"].encode()})
"""


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.notes: list = []
        self.lines: list[tuple[str, str, str]] = []
        self._changed = threading.Condition()

    def emit_for(self, name: str):
        def emit(event: str, **fields) -> None:
            with self._changed:
                self.events.append({"event": event, "service": name, **fields})
                self._changed.notify_all()

        return emit

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def wait_for(self, event: str, count: int = 1, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                hits = [e for e in self.events if e["event"] == event]
                if len(hits) >= count:
                    return hits[count - 1]
                left = deadline - time.monotonic()
                assert left > 0, f"no {event} #{count}; saw {self.names()}"
                self._changed.wait(left)


@pytest.fixture
def services():
    recorder = Recorder()
    started: list[Services] = []

    def make() -> Services:
        s = Services(recorder.emit_for, lambda *line: recorder.lines.append(line),
                     recorder.notes.append, FAST, proxy_ports={"api": 0, "worker": 0})
        started.append(s)
        return s

    make.recorder = recorder
    yield make
    for s in started:
        s.stop(grace=1)


def write_app(directory: Path, version: str, healthy: bool = True, source: str = WSGI) -> Path:
    path = directory / "web.py"
    path.write_text(source.format(version=version, healthy=healthy))
    return path


def spec(directory: Path, **overrides) -> ServiceSpec:
    fields = dict(name="api", code_dir=directory, python="web:app", port=8000, health="/health")
    return ServiceSpec(**{**fields, **overrides})


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_routes_to_the_app_once_healthy(services, tmp_path):
    write_app(tmp_path, "v1")
    s = services()
    s.update([spec(tmp_path)])
    url = s.urls()["api"]
    assert url is not None and not url.endswith(":8000")  # the test asked for a free port
    assert get(url + "/hello") == "v1"  # held until ready, then routed
    ready = services.recorder.wait_for("service_ready")
    assert ready["url"] == url and ready["port"] != int(url.rsplit(":", 1)[1])
    assert services.recorder.names()[:2] == ["service_started", "service_ready"]


def test_twenty_reloads_under_a_request_loop_fail_no_request(services, tmp_path):
    source = write_app(tmp_path, "v0")
    s = services()
    s.update([spec(tmp_path)])
    url = s.urls()["api"] + "/"
    assert get(url) == "v0"
    failures: list[str] = []
    seen: set[str] = set()
    sent = 0
    done = threading.Event()

    def client() -> None:
        nonlocal sent
        while not done.is_set():
            try:
                seen.add(get(url))
            except (OSError, urllib.error.HTTPError) as exc:
                failures.append(repr(exc))
            sent += 1

    loop = threading.Thread(target=client)
    loop.start()
    try:
        for n in range(1, 21):
            write_app(tmp_path, f"v{n}")
            s.update([spec(tmp_path)], [source])
            services.recorder.wait_for("service_stopped", n)  # new one live, old one retired
    finally:
        done.set()
        loop.join()
    assert failures == []
    assert sent > 40 and len(seen) > 5  # the loop really spanned the reloads
    assert get(url) == "v20"
    assert services.recorder.names().count("service_ready") == 21


def test_a_reload_that_never_gets_healthy_keeps_the_old_instance(services, tmp_path):
    source = write_app(tmp_path, "good")
    s = services()
    s.update([spec(tmp_path)])
    url = s.urls()["api"] + "/"
    assert get(url) == "good"
    slow = Timing(**{**FAST.__dict__, "ready_s": 1.0})
    s.supervisors["api"].timing = slow
    write_app(tmp_path, "bad", healthy=False)
    s.update([spec(tmp_path)], [source])
    failed = services.recorder.wait_for("reload_failed")
    assert "not healthy after 1s" in failed["reason"]
    assert get(url) == "good"
    # and code that does not even import
    source.write_text("raise RuntimeError('broken on import')\n")
    s.update([spec(tmp_path)], [source])
    failed = services.recorder.wait_for("reload_failed", 2)
    assert "exited with code 1" in failed["reason"] and "broken on import" in failed["stderr_tail"]
    assert get(url) == "good"


def test_a_crash_is_restarted_with_backoff(services, tmp_path):
    write_app(tmp_path, "v1")
    s = services()
    s.update([spec(tmp_path)])
    url = s.urls()["api"]
    assert get(url + "/") == "v1"
    with pytest.raises(urllib.error.HTTPError) as crash:
        get(url + "/crash")
    assert crash.value.code == 502
    crashed = services.recorder.wait_for("service_crashed")
    assert crashed["exit_code"] == 3 and crashed["reason"] == "exited with code 3"
    restarted = services.recorder.wait_for("service_restarted")
    assert restarted["attempt"] == 1 and restarted["backoff_s"] == FAST.backoff_first_s
    assert get(url + "/") == "v1"  # held by the proxy until the restart is ready
    assert services.recorder.names().count("service_ready") == 2


SICKENING = """
import os
SICK = False

def app(environ, start_response):
    global SICK
    path = environ["PATH_INFO"]
    if path == "/sick":
        SICK = True  # from now on this process fails its liveness probe
    bad = SICK and path == "/health"
    start_response("500 Internal Server Error" if bad else "200 OK", [])
    return [str(os.getpid()).encode()]
"""


def test_an_instance_failing_liveness_is_replaced_while_it_keeps_serving(services, tmp_path):
    (tmp_path / "web.py").write_text(SICKENING)
    s = services()
    s.timing = Timing(**{**FAST.__dict__, "live_every_s": 0.05, "live_failures": 3})
    s.update([spec(tmp_path)])
    url = s.urls()["api"]
    first = get(url + "/")
    failures: list[str] = []
    pids: list[str] = []
    done = threading.Event()

    def client() -> None:
        while not done.is_set():
            try:
                pids.append(get(url + "/"))
            except (OSError, urllib.error.HTTPError) as exc:
                failures.append(repr(exc))

    loop = threading.Thread(target=client)
    loop.start()
    try:
        time.sleep(0.3)  # healthy: probed ~6 times, never restarted
        assert "service_crashed" not in services.recorder.names()
        get(url + "/sick")
        crashed = services.recorder.wait_for("service_crashed")
        restarted = services.recorder.wait_for("service_restarted")
        ready = services.recorder.wait_for("service_ready", 2)
        services.recorder.wait_for("service_stopped")  # the sick one, once drained
    finally:
        done.set()
        loop.join()
    assert failures == []
    assert "failed 3 liveness probes in a row (/health)" in crashed["reason"]
    assert crashed["exit_code"] is None and crashed["instance"] != ready["instance"]
    assert (restarted["reason"], restarted["attempt"]) == ("liveness", 1)
    assert pids[0] == first and get(url + "/") != first  # the new process serves
    time.sleep(0.3)  # the replacement is healthy: no second restart
    assert services.recorder.names().count("service_crashed") == 1


def test_asgi_app_runs_under_uvicorn(services, tmp_path):
    (tmp_path / "web.py").write_text(ASGI)
    s = services()
    s.update([spec(tmp_path, health=None)])
    assert get(s.urls()["api"] + "/x?y=1") == "asgi /x"


def test_worker_has_no_proxy_and_restarts_when_it_returns(services, tmp_path):
    (tmp_path / "jobs.py").write_text("import time\ndef work():\n    print('working')\n"
                                      "    time.sleep(0.5)\n")  # fmt: skip
    s = services()
    s.update([ServiceSpec(name="worker", code_dir=tmp_path, python="jobs:work")])
    assert s.urls() == {"worker": None}
    services.recorder.wait_for("service_ready")
    crashed = services.recorder.wait_for("service_crashed")
    assert crashed["exit_code"] == 0
    services.recorder.wait_for("service_restarted")
    assert ("worker", "stdout", "working") in services.recorder.lines


def test_image_service_without_docker_is_a_diagnostic(services, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    s = services()
    s.update([ServiceSpec(name="api", code_dir=tmp_path, image="nginx:1.27", port=80)])
    crashed = services.recorder.wait_for("service_crashed")
    assert "needs Docker" in crashed["reason"]
    assert services.recorder.notes[0].code == "E502"


def test_image_service_in_a_real_container_is_swapped_without_failures(
    services, tmp_path, docker_host, busybox_image
):
    """busybox httpd in the private dockerd (hardened: read-only root, uid 65532)."""

    def web(version: str) -> ServiceSpec:
        script = (f"mkdir -p /tmp/www && echo {version} > /tmp/www/index.html && "
                  "echo ok > /tmp/www/health && exec httpd -f -p $PORT -h /tmp/www")
        return ServiceSpec(name="api", code_dir=tmp_path, image=busybox_image,
                           command=("sh", "-c", script), port=8000, health="/health",
                           memory_mib=64)  # fmt: skip

    s = services()
    s.update([web("v1")])
    url = s.urls()["api"] + "/index.html"
    assert get(url).strip() == "v1"
    s.update([web("v2")])  # a spec change: new container healthy first, then the switch
    services.recorder.wait_for("service_stopped")
    assert get(url).strip() == "v2"
    import docker

    labels = [c.labels for c in docker.from_env().containers.list()]
    assert [x["flowc.service"] for x in labels if "flowc.service" in x] == ["api"]
