"""Image tasks (and `--isolate docker` python tasks) against a real dockerd.

The engine is the session's private dockerd (tests/components_support.py); images are
the offline busybox and debootstrap python images, so nothing reaches a registry.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import docker
import pytest

from flowc.compiler.ir import ImageHandler
from flowc.emulator.docker_runner import LABEL, DockerRunner, owner_label
from flowc.emulator.runners import TIMEOUT_EXIT, Attempt, StartError
from flowc.targets import registry
from tests.components_support import components
from tests.emulator_support import Collector, make_app, make_task, unique, write_jobs

FLOWC = [str(Path(sys.executable).parent / "flowc")]


def image_task(name: str, image: str, *command: str, **settings):
    return make_task(name, handler=ImageHandler(image, tuple(command)), **settings)


def attempt(tmp_path: Path, task, env=None, app=None) -> Attempt:
    app = app or make_app(tmp_path, task)
    return Attempt(app, task, unique("r"), 1, dict(env or {}), tmp_path)


def listed(host: str, **labels: str) -> list[dict]:
    """Containers with these labels (all flowc's if none), as the engine lists them: one
    call, no inspect per container (which races a container being removed)."""
    client = docker.APIClient(base_url=host)
    try:
        wanted = [f"{k}={v}" for k, v in labels.items()] or [LABEL]
        return client.containers(all=True, filters={"label": wanted})
    finally:
        client.close()


def containers(host: str, **labels: str) -> list[str]:
    """The ids of the containers with these labels."""
    return [c["Id"] for c in listed(host, **labels)]


def wait_for_container(host: str, timeout: float = 60, **labels: str):
    """The first running container with these labels, inspected."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for found in listed(host, **labels):
            if found["State"] == "running":
                client = docker.DockerClient(base_url=host)
                try:
                    return client.containers.get(found["Id"])
                except docker.errors.NotFound:
                    pass  # gone between the list and the inspect
                finally:
                    client.close()
        time.sleep(0.1)
    raise AssertionError(f"no running container labelled {labels}")


def in_thread(fn, *args):
    """Run fn(*args) in a thread; the dict gets `value`, or `error` if it raised."""
    result: dict = {}

    def target():
        try:
            result["value"] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - reported by the test's assertion
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


# -- one attempt ----------------------------------------------------------------------


def test_container_is_hardened_like_the_k8s_target_and_removed_on_stop(
    tmp_path, docker_host, busybox_image
):
    task = image_task("hard", busybox_image, "sleep", "60", memory_mib=96, cpu=0.5)
    runner = DockerRunner(Collector().output)
    thread, result = in_thread(runner.run, attempt(tmp_path, task))
    container = wait_for_container(docker_host, **{"flowc.task": "hard"})
    info = container.attrs
    host_config = info["HostConfig"]
    assert info["Config"]["User"] == "65532:65532"
    assert host_config["ReadonlyRootfs"] is True
    assert "/tmp" in host_config["Tmpfs"]
    assert host_config["SecurityOpt"] == ["no-new-privileges"]
    assert host_config["CapDrop"] == ["ALL"]
    assert host_config["NetworkMode"] == "host"
    assert host_config["Memory"] == 96 * 2**20
    assert host_config["NanoCpus"] == 500_000_000
    assert info["Config"]["Labels"][LABEL] == owner_label()
    runner.terminate_all(grace=1)
    thread.join(10)
    assert result["value"].interrupted is True
    assert containers(docker_host, **{"flowc.task": "hard"}) == []


def test_output_is_streamed_with_the_task_env_and_the_exit_code_recorded(
    tmp_path, docker_host, busybox_image
):
    script = ('echo "hello $GREETING"; id -u; touch /tmp/scratch && echo tmp-writable; '
              'touch /etc/x 2>/dev/null || echo root-read-only; echo "disk full" >&2; exit 3')
    task = image_task("out", busybox_image, "sh", "-c", script)
    collector = Collector()
    result = DockerRunner(collector.output).run(attempt(tmp_path, task, {"GREETING": "bob"}))
    stdout = [line for task_name, stream, line in collector.lines
              if task_name == "out" and stream == "stdout"]  # fmt: skip
    assert stdout == ["hello bob", "65532", "tmp-writable", "root-read-only"]
    assert result.exit_code == 3 and not result.ok
    assert "disk full" in result.stderr_tail
    assert containers(docker_host, **{"flowc.task": "out"}) == []


def test_timeout_stops_then_kills_the_container(tmp_path, docker_host, busybox_image):
    task = image_task("slow", busybox_image, "sleep", "60", timeout_s=1)
    began = time.monotonic()
    result = DockerRunner(Collector().output).run(attempt(tmp_path, task))
    assert result.timed_out and result.exit_code == TIMEOUT_EXIT
    assert time.monotonic() - began < 15  # 1s + SIGTERM grace (sleep as pid 1 ignores it)
    assert "timed out" in result.stderr_tail
    assert containers(docker_host, **{"flowc.task": "slow"}) == []


def test_missing_image_is_E509_naming_docker_pull_and_build(tmp_path, docker_host):
    task = image_task("gone", "flowc-test/not-built:1", "true")
    with pytest.raises(StartError) as info:
        DockerRunner(Collector().output).run(attempt(tmp_path, task))
    d = info.value.diagnostic
    assert d.code == "E509" and "flowc-test/not-built:1" in d.message
    assert "docker pull flowc-test/not-built:1" in d.help and "docker build" in d.help
    assert "--pull" in d.help


def test_pull_failure_is_E510_not_a_traceback(tmp_path, docker_host):
    # a registry on a closed loopback port: the pull fails at once, offline
    task = image_task("pull", "127.0.0.1:9/flowc/none:1", "true")
    with pytest.raises(StartError) as info:
        DockerRunner(Collector().output, pull=True).run(attempt(tmp_path, task))
    assert info.value.diagnostic.code == "E510"
    assert "docker pull 127.0.0.1:9/flowc/none:1" in info.value.diagnostic.message


def test_command_missing_from_the_image_is_E512(tmp_path, docker_host, busybox_image):
    task = image_task("nocmd", busybox_image, "/no/such/binary")
    with pytest.raises(StartError) as info:
        DockerRunner(Collector().output).run(attempt(tmp_path, task))
    assert info.value.diagnostic.code == "E512" and info.value.diagnostic.help
    assert containers(docker_host, **{"flowc.task": "nocmd"}) == []


def test_containers_of_a_dead_flowc_are_reaped(tmp_path, dockerd, docker_host, busybox_image):
    dead = subprocess.Popen(["true"])
    dead.wait()
    owner = f"{owner_label().rpartition(':')[0]}:{dead.pid}"
    client = dockerd.client()
    try:
        leftover = client.containers.run(busybox_image, ["sleep", "60"], detach=True,
                                         labels={LABEL: owner}, network_mode="none")
        mine = client.containers.run(busybox_image, ["sleep", "60"], detach=True,
                                     labels={LABEL: owner_label()}, network_mode="none")
        assert DockerRunner(Collector().output).reap_leftovers() == 1
        ids = set(containers(docker_host))
        assert leftover.id not in ids and mine.id in ids  # a live owner's are left alone
        mine.remove(force=True)
    finally:
        client.close()


def test_engine_going_away_mid_run_fails_the_attempt_with_E511(tmp_path, busybox_image,
                                                               monkeypatch):
    engine = components.Dockerd(Path(f"/tmp/fdk-gone-{os.getpid()}")).start()
    try:
        engine.import_image(components.busybox_rootfs(), busybox_image)
        monkeypatch.setenv("DOCKER_HOST", engine.host)
        task = image_task("lost", busybox_image, "sleep", "60", timeout_s=120)
        runner = DockerRunner(Collector().output)
        thread, result = in_thread(runner.run, attempt(tmp_path, task))
        wait_for_container(engine.host, **{"flowc.task": "lost"})
        engine.crash()
        thread.join(30)
        assert "value" in result, result
        outcome = result["value"]
        assert not outcome.ok and outcome.diagnostic.code == "E511"
        assert "stopped answering" in outcome.error and not outcome.interrupted
    finally:
        engine.remove()


# -- python tasks in the k8s target's image (--isolate docker) -------------------------

ISOLATED_JOBS = '''
import os, sys

def ok():
    print("uid", os.getuid(), "cwd", os.getcwd(), "env", os.environ.get("GREETING"))

def write_code():
    open(os.path.join(os.path.dirname(__file__), "new.txt"), "w").write("x")
'''


def test_isolated_python_task_runs_in_the_python_image_with_read_only_code(
    tmp_path, docker_host, python_image
):
    tmp_path.chmod(0o755)  # readable by the container's uid, like a ConfigMap's files
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").write_text("")
    (tmp_path / "jobs" / "main.py").write_text(ISOLATED_JOBS)
    ok, writer = make_task("ok"), make_task("write", "write_code")
    app = make_app(tmp_path, ok, writer)
    k8s = dataclasses.replace(registry.get("k8s").settings_of(app), python_image=python_image)
    app = dataclasses.replace(app, settings={**app.settings, "k8s": k8s})
    collector = Collector()
    runner = DockerRunner(collector.output, isolate=True)
    assert runner.run(attempt(tmp_path, ok, {"GREETING": "hi"}, app)).ok
    assert ("ok", "stdout", "uid 65532 cwd /code env hi") in collector.lines
    failed = runner.run(attempt(tmp_path, writer, app=app))
    assert failed.exit_code == 1 and "Read-only file system" in failed.stderr_tail
    assert not (tmp_path / "jobs" / "new.txt").exists()


def test_flowc_run_isolate_docker_uses_the_environments_python_image(
    tmp_path, docker_host, python_image
):
    tmp_path.chmod(0o755)
    write_jobs(tmp_path)
    (tmp_path / "jobs" / "iso.py").write_text(ISOLATED_JOBS)
    (tmp_path / "app.flow").write_text(f"""
app {unique("iso")}
task ok {{
  python = "jobs.iso:ok"
  schedule = every 1h
  env {{ GREETING = "hello" }}
}}
environment dev {{ k8s {{ python_image = "{python_image}" }} }}
""")
    done = subprocess.run([*FLOWC, "run", "app.flow", "ok", "--env", "dev", "--isolate", "docker",
                           "--state", ".flowc"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "LOCALSTACK_HOST": "127.0.0.1:9"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "uid 65532 cwd /code env hello" in done.stdout
    plain = subprocess.run([*FLOWC, "run", "app.flow", "ok", "--env", "dev", "--state", ".flowc"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "LOCALSTACK_HOST": "127.0.0.1:9"})  # fmt: skip
    assert f"uid {os.getuid()} cwd {tmp_path}" in plain.stdout  # the default: a process


# -- flowc dev / flowc run end to end ---------------------------------------------------------

SPEC = """
app {app}
task good {{
  image = "{image}"
  command = ["sh", "-c", "echo from-container $FLOWC_TASK"]
  schedule = every 1m
  targets = [k8s]
}}
task bad {{
  image = "{image}"
  command = ["sh", "-c", "echo broken >&2; exit 7"]
  schedule = every 1m
  targets = [k8s]
  retries = 1
  on_failure = dead_letter
}}
task missing {{
  image = "flowc-test/absent:1"
  schedule = every 1m
  targets = [k8s]
  retries = 3
  on_failure = dead_letter
}}
"""


def write_spec(tmp_path: Path, image: str, text: str = SPEC) -> tuple[Path, str]:
    name = unique("dk")
    path = tmp_path / "app.flow"
    path.write_text(text.format(app=name, image=image))
    write_jobs(tmp_path)
    return path, name


def test_flowc_dev_runs_image_tasks_retries_and_dead_letters(tmp_path, docker_host,
                                                             busybox_image):
    spec, _ = write_spec(tmp_path, busybox_image)
    events = tmp_path / "events.jsonl"
    done = subprocess.run(
        [*FLOWC, "dev", str(spec), "--plain", "--no-watch", "--speed", "600", "--for", "90s",
         "--start", "2026-01-05T09:00:30+00:00", "--state", str(tmp_path / ".flowc"),
         "--events", str(events)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "LOCALSTACK_HOST":
                                                          "127.0.0.1:9"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in events.read_text().splitlines()]

    def named(event, task):
        return [r for r in records if r["event"] == event and r["task"] == task]

    assert named("succeeded", "good")
    assert "good | from-container good" in done.stdout + done.stderr, done.stdout
    lettered = named("dead_lettered", "bad")
    assert lettered
    run = [f for f in named("failed", "bad") if f["run_id"] == lettered[0]["run_id"]]
    assert [(f["attempt"], f["exit_code"], f["final"]) for f in run] == [(1, 7, False),
                                                                         (2, 7, True)]
    # the missing image: one diagnostic, no retries, each run straight to its queue
    missing = named("failed", "missing")
    assert missing and all(f["attempt"] == 1 and f["final"] for f in missing)
    assert not named("retried", "missing")
    assert (done.stdout + done.stderr).count("[E509]") == 1
    assert containers(docker_host) == []


SLEEPER = """
app {app}
task sleeper {{
  image = "{image}"
  command = ["sleep", "300"]
  schedule = every 1m
  targets = [k8s]
}}
"""


def test_ctrl_c_stops_and_removes_the_running_container(tmp_path, docker_host, busybox_image):
    spec, name = write_spec(tmp_path, busybox_image, SLEEPER)
    with open(tmp_path / "dev.log", "w") as log:  # Popen keeps its own descriptor
        flowc = subprocess.Popen(
            [*FLOWC, "dev", str(spec), "--plain", "--no-watch", "--speed", "1", "--grace", "0.5",
             "--start", "2026-01-05T09:00:59.5+00:00", "--state", str(tmp_path / ".flowc"),
             "--events", str(tmp_path / "events.jsonl")],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "LOCALSTACK_HOST": "127.0.0.1:9"},
        )  # fmt: skip
    try:
        wait_for_container(docker_host, **{"flowc.app": name})
    finally:
        flowc.send_signal(signal.SIGINT)
        try:
            flowc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            flowc.kill()
    assert flowc.wait() == 0, (tmp_path / "dev.log").read_text()
    assert containers(docker_host, **{"flowc.app": name}) == []
    records = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    failed = [r for r in records if r["event"] == "failed" and r["task"] == "sleeper"]
    assert failed and failed[0]["interrupted"] is True


def test_kill_9_leaves_a_container_that_the_next_start_reaps(tmp_path, docker_host,
                                                             busybox_image):
    spec, name = write_spec(tmp_path, busybox_image, """
app {app}
task sleeper {{
  image = "{image}"
  command = ["sleep", "300"]
  schedule = every 1m
  targets = [k8s]
}}
task quick {{
  image = "{image}"
  command = ["true"]
  schedule = every 1h
  targets = [k8s]
}}
""")
    argv = [*FLOWC, "dev", str(spec), "--plain", "--no-watch", "--speed", "1",
            "--start", "2026-01-05T09:00:59+00:00", "--state", str(tmp_path / ".flowc")]
    env = {**os.environ, "LOCALSTACK_HOST": "127.0.0.1:9"}
    flowc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        left = wait_for_container(docker_host, **{"flowc.app": name})
    finally:
        flowc.send_signal(signal.SIGKILL)
        flowc.wait()
    assert containers(docker_host, **{"flowc.app": name}) == [left.id]
    done = subprocess.run([*FLOWC, "run", str(spec), "quick", "--state",
                           str(tmp_path / ".flowc")], capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "removed 1 container(s)" in done.stderr
    assert containers(docker_host, **{"flowc.app": name}) == []
