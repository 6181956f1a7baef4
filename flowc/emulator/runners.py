"""Runners: run one attempt of a task and report how it ended.

- `ProcessRunner` runs a python task as `python -c BOOTSTRAP CODE_DIR MODULE FUNCTION`
  (cwd = the code directory, like Lambda's /var/task) under a supervisor process
  (supervisor.py, a child subreaper) that catches every descendant, even ones that
  call `setsid` or double-fork, and kills them all when the task's main process exits,
  on timeout, when flowc stops, and when flowc dies. Output is read in the attempt's
  thread with `select`, line by line (each line capped at LINE_CAP bytes), and never
  holds up the end of the attempt.
- Image tasks run in containers: `flowc.emulator.docker_runner.DockerRunner`. A runner
  raises `StartError` for an attempt that cannot start (missing code directory, no
  Docker engine...); the caller turns it into a per-task failure, never a crash.

Exit codes: a process killed by signal N reports 128+N; a timed-out attempt 124.
"""

from __future__ import annotations

import os
import selectors
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
from flowc.emulator.processes import kill_leftovers, start_time
from flowc.emulator.secrets import ENV_PREFIX

TIMEOUT_EXIT = 124
TAIL_LINES = 40
TAIL_CHARS = 4000
LINE_CAP = 64 * 1024  # bytes kept of one output line
READ_CHUNK = 64 * 1024
DRAIN_S = 0.5  # output still read after the attempt's processes are gone
SUPERVISOR = (Path(__file__).parent / "supervisor.py").read_text(encoding="utf-8")

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


class Lines:
    """Splits one output stream into lines, capped at LINE_CAP bytes each (the rest of an
    over-long line is counted and dropped), so memory stays bounded whatever a task prints."""

    def __init__(self, task: str, stream: str, sink: OutputSink, tail: _Tail | None):
        self.task, self.stream, self.sink, self.tail = task, stream, sink, tail
        self._buffer = bytearray()
        self._dropped = 0  # bytes of the current line beyond LINE_CAP
        self._sink_broken = False

    def feed(self, chunk: bytes) -> None:
        while chunk:
            newline = chunk.find(b"\n")
            part = chunk if newline < 0 else chunk[:newline]
            room = LINE_CAP - len(self._buffer)
            self._buffer += part[:room]
            self._dropped += max(0, len(part) - room)
            if newline < 0:
                return
            self._emit()
            chunk = chunk[newline + 1:]

    def close(self) -> None:
        if self._buffer or self._dropped:
            self._emit()

    def _emit(self) -> None:
        line = self._buffer.decode("utf-8", errors="replace").rstrip("\r")
        if self._dropped:
            line += f" [flowc: {self._dropped} more bytes of this line dropped]"
        self._buffer, self._dropped = bytearray(), 0
        if self.tail is not None:
            self.tail.add(line)
        if not self._sink_broken:
            try:
                self.sink(self.task, self.stream, line)
            except (OSError, ValueError):  # our own stdout went away: keep the attempt going
                self._sink_broken = True


class ProcessRunner:
    """Python tasks as child processes, each under its own supervisor (supervisor.py)."""

    def __init__(
        self,
        output: OutputSink,
        python: str = sys.executable,
        on_spawn: Callable[[Attempt, int, int | None], None] | None = None,
    ):
        self.output = output
        self.python = python
        self.on_spawn = on_spawn  # (attempt, supervisor pid, its start time): write-ahead
        self._active: dict[int, subprocess.Popen[bytes]] = {}
        self._run_of: dict[int, str] = {}  # pid -> run id (`overlap = replace` stops one run)
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
        argv = [self.python, "-I", "-S", "-c", SUPERVISOR, str(os.getpid()), "--",
                self.python, "-c", BOOTSTRAP, str(attempt.code_dir), handler.module,
                handler.function]  # fmt: skip
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=attempt.code_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # the terminal's Ctrl-C goes to flowc, which decides
            bufsize=0,
        )
        with self._lock:
            self._active[proc.pid] = proc
            self._run_of[proc.pid] = attempt.run_id
        tail = _Tail()
        name, sink = attempt.task.name, attempt.sink(self.output)
        streams = {
            proc.stdout: Lines(name, "stdout", sink, None),
            proc.stderr: Lines(name, "stderr", sink, tail),
        }
        timed_out = False
        try:
            if self.on_spawn is not None:
                self.on_spawn(attempt, proc.pid, start_time(proc.pid))
            timed_out = _follow(proc, streams, started + attempt.task.timeout_s)
        finally:
            _signal(proc, signal.SIGUSR1)  # no-op when it ended by itself
            returncode = _reap(proc)
            if returncode < 0:  # the supervisor itself was killed: it could not clean up
                kill_leftovers([attempt.run_id])
            for pipe in streams:
                pipe.close()
            with self._lock:
                self._active.pop(proc.pid, None)
                self._run_of.pop(proc.pid, None)
                interrupted = proc.pid in self._interrupted
                self._interrupted.discard(proc.pid)
        for lines in streams.values():
            lines.close()
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

    def terminate_run(self, run_id: str) -> None:
        """SIGTERM the attempt of one run (its group); it ends as interrupted."""
        with self._lock:
            pids = [pid for pid, run in self._run_of.items() if run == run_id]
            self._interrupted.update(pids)
        for pid in pids:
            _killpg(pid, signal.SIGTERM)

    def terminate_all(self, grace: float) -> None:
        """SIGTERM every running attempt's processes; SIGKILL what is left after `grace`."""
        with self._lock:
            procs = list(self._active.values())
            self._interrupted.update(p.pid for p in procs)
        for proc in procs:
            _signal(proc, signal.SIGTERM)  # the supervisor forwards it to the whole tree
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.active:
            time.sleep(0.05)
        with self._lock:
            procs = list(self._active.values())
        for proc in procs:
            _signal(proc, signal.SIGUSR1)  # the supervisor kills the whole tree


def _follow(proc: subprocess.Popen[bytes], streams: dict, deadline: float) -> bool:
    """Read the attempt's output until its supervisor has exited; True if it timed out.

    Reading never blocks the end: once the supervisor is gone, output still buffered is
    read for at most DRAIN_S (a pipe kept open by an escaped process is not waited for).
    """
    selector = selectors.DefaultSelector()
    for pipe in streams:
        selector.register(pipe, selectors.EVENT_READ)
    timed_out, ended_at = False, None
    try:
        while selector.get_map():
            now = time.monotonic()
            if not timed_out and now >= deadline:
                timed_out = True
                _signal(proc, signal.SIGUSR1)
            if proc.poll() is not None:
                ended_at = ended_at or now
                if now - ended_at > DRAIN_S:
                    break
            wait = 0.05 if ended_at or timed_out else min(0.2, max(0.0, deadline - now))
            for key, _ in selector.select(wait):
                chunk = os.read(key.fd, READ_CHUNK)
                if chunk:
                    streams[key.fileobj].feed(chunk)
                else:
                    selector.unregister(key.fileobj)
        while proc.poll() is None:  # both pipes closed: only the exit status is left
            if not timed_out and time.monotonic() >= deadline:
                timed_out = True
                _signal(proc, signal.SIGUSR1)
            time.sleep(0.02)
    finally:
        selector.close()
    return timed_out


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    if proc.returncode is None:
        try:
            proc.send_signal(sig)
        except OSError:
            pass


def _reap(proc: subprocess.Popen[bytes]) -> int:
    """The supervisor's exit status; it exits right after killing the tree."""
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # a wedged supervisor: kill it, its tree is orphaned
        proc.kill()
        return proc.wait()


def _killpg(pgid: int, sig: int) -> None:
    """Signal a process group, if it is still there (services' instances use groups)."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
