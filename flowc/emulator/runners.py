"""Runners: run one attempt of a task and report how it ended.

- `ProcessRunner` runs a python task as `python -c BOOTSTRAP CODE_DIR MODULE FUNCTION`
  in its own process group (cwd = the code directory, like Lambda's /var/task),
  streams stdout/stderr line by line to the output sink, and enforces the timeout
  by killing the whole group. The group is also killed when the attempt ends, so a
  task cannot leave background children behind.
- Image tasks run in containers: `flowc.emulator.docker_runner.DockerRunner`. A runner
  raises `StartError` for an attempt that cannot start (missing code directory, no
  Docker engine...); the caller turns it into a per-task failure, never a crash.

Exit codes: a process killed by signal N reports 128+N; a timed-out attempt 124.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from flowc.compiler.ir import App, PythonHandler, Task
from flowc.diagnostics import Diagnostic, DiagnosticError
from flowc.emulator.secrets import ENV_PREFIX

TIMEOUT_EXIT = 124
TAIL_LINES = 40
TAIL_CHARS = 4000

OutputSink = Callable[[str, str, str], None]  # (task, "stdout"|"stderr", line)

BOOTSTRAP = r"""
import importlib, inspect, json, os, sys, time, types
code_dir, module, function = sys.argv[1:4]
sys.argv = [module]
sys.path.insert(0, code_dir)
handler = getattr(importlib.import_module(module), function)
try:
    required = [p for p in inspect.signature(handler).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
except (TypeError, ValueError):
    required = []
if required:
    event = json.loads(os.environ.get("FLOWC_EVENT") or "{}")
    deadline = float(os.environ.get("FLOWC_DEADLINE") or 0)
    context = types.SimpleNamespace(
        function_name=event.get("task"), aws_request_id=event.get("run_id"),
        get_remaining_time_in_millis=lambda: max(0, int((deadline - time.time()) * 1000)))
    handler(*[event, context][:len(required)])
else:
    handler()
"""


class StartError(DiagnosticError):
    """An attempt that could not start; carries the diagnostic to show."""


@dataclass(frozen=True)
class Attempt:
    app: App
    task: Task
    run_id: str
    number: int
    env: dict[str, str]  # the task's variables (secrets resolved) and FLOWC_* / AWS_* ones
    code_dir: Path
    log: Callable[[str, str], None] | None = None  # (stream, line): the run's kept output

    def sink(self, output: OutputSink) -> OutputSink:
        """`output` (the live view), and the run's log when it has one."""
        if self.log is None:
            return output

        def both(task: str, stream: str, line: str) -> None:
            self.log(stream, line)
            output(task, stream, line)

        return both


@dataclass
class AttemptResult:
    exit_code: int | None
    timed_out: bool = False
    interrupted: bool = False
    stderr_tail: str = ""
    duration_s: float = 0.0
    error: str | None = None
    diagnostic: Diagnostic | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.error is None


class _Tail:
    def __init__(self) -> None:
        self.lines: deque[str] = deque(maxlen=TAIL_LINES)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def text(self) -> str:
        return "\n".join(self.lines)[-TAIL_CHARS:]


def require_code_dir(attempt: Attempt) -> None:
    """StartError E504 unless the python task's code directory exists."""
    if not attempt.code_dir.is_dir():
        raise StartError(
            Diagnostic(
                "E504",
                f"task `{attempt.task.name}`: code directory {attempt.code_dir} does not exist",
                attempt.task.span,
                help="put the task's code next to the .flow file, or fix `code_dir`",
            )
        )


def _pump(lines: Iterable[bytes], task: str, stream: str, sink: OutputSink, tail: _Tail | None):
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if tail is not None:
            tail.add(line)
        sink(task, stream, line)


def _normalise(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def host_environment() -> dict[str, str]:
    """The parent's environment minus flowc's secret variables (tasks get only theirs)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}


class ProcessRunner:
    """Python tasks as child processes, one process group per attempt."""

    def __init__(self, output: OutputSink, python: str = sys.executable):
        self.output = output
        self.python = python
        self._active: dict[int, subprocess.Popen[bytes]] = {}
        self._interrupted: set[int] = set()
        self._lock = threading.Lock()

    def run(self, attempt: Attempt) -> AttemptResult:
        handler = attempt.task.handler
        assert isinstance(handler, PythonHandler)
        require_code_dir(attempt)
        env = host_environment()
        env.update(attempt.env)
        env["PYTHONUNBUFFERED"] = "1"
        env["FLOWC_DEADLINE"] = str(time.time() + attempt.task.timeout_s)
        argv = [self.python, "-c", BOOTSTRAP, str(attempt.code_dir), handler.module,
                handler.function]  # fmt: skip
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=attempt.code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        with self._lock:
            self._active[proc.pid] = proc
        tail = _Tail()
        name, sink = attempt.task.name, attempt.sink(self.output)
        readers = [
            threading.Thread(target=_pump, args=(proc.stdout, name, "stdout", sink, None)),
            threading.Thread(target=_pump, args=(proc.stderr, name, "stderr", sink, tail)),
        ]
        for reader in readers:
            reader.daemon = True
            reader.start()
        timed_out = False
        try:
            returncode = proc.wait(timeout=attempt.task.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _killpg(proc.pid, signal.SIGKILL)
            returncode = proc.wait()
        finally:
            _killpg(proc.pid, signal.SIGKILL)  # whatever the task left behind
            with self._lock:
                self._active.pop(proc.pid, None)
                interrupted = proc.pid in self._interrupted
                self._interrupted.discard(proc.pid)
        for reader in readers:
            reader.join(timeout=2)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        if timed_out:
            tail.add(f"flowc: task timed out after {attempt.task.timeout_s}s and was killed")
        return AttemptResult(
            exit_code=TIMEOUT_EXIT if timed_out else _normalise(returncode),
            timed_out=timed_out,
            interrupted=interrupted and not timed_out,
            stderr_tail=tail.text(),
            duration_s=time.monotonic() - started,
        )

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._active)

    def terminate_all(self, grace: float) -> None:
        """SIGTERM every running attempt's group; SIGKILL what is left after `grace`."""
        with self._lock:
            pids = list(self._active)
            self._interrupted.update(pids)
        for pid in pids:
            _killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.active:
            time.sleep(0.05)
        with self._lock:
            pids = list(self._active)
        for pid in pids:
            _killpg(pid, signal.SIGKILL)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
