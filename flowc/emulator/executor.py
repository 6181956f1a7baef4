"""One run of a task from trigger to outcome: attempts, retries, timeouts, dead letter.

A run is what one schedule fire (or one `flowc run`) starts. It makes up to
`1 + task.retries` attempts; between attempts it waits a back-off in virtual time
(10s, 20s, 40s, ... capped at 6m, like a Kubernetes Job's back-off). After the last
failed attempt the run goes to the task's dead-letter queue when the task has
`on_failure = dead_letter`; either way it stays in the history. An attempt that
cannot start (missing secret, no Docker engine, missing code directory) is not
retried: the same attempt would fail the same way.

Event order of a run: scheduled, then per attempt started and succeeded|failed,
with retried before each further attempt, and dead_lettered last when it applies.
Each run's events carry the `version` of the task's code it runs (flowc/emulator/
versions.py: with a canary, a share of runs take the new version, the rest the stable one).

Time: each run has its own timeline on the clock (clock.py), from its fire instant at
real speed; its events and history rows are stamped from it, so attempts take their
real duration in virtual time at every `--speed`. The back-off is virtual time. When
a `--for` window (`until`) ends before a retry is due, the run is `abandoned` with that
reason (and dead-lettered like a failed run): nothing is stamped far past the window.

Queue: a fire becomes a run (`_admit`) unless the task is paused or, under `overlap =
skip`, a run of it is in flight: then the fire is held until that run ends and starts
then if it is still within its start window, else it is `skipped` (`_hold`/`_release`).
A run's attempts wait for one of MAX_CONCURRENT_ATTEMPTS slots, in order, while their
timeline holds the clock.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App, SecretRef, Task
from flowc.diagnostics import Diagnostic
from flowc.emulator.alerts import AlertTracker
from flowc.emulator.clock import Clock, Timeline, iso
from flowc.emulator.cloud import Cloud
from flowc.emulator.docker_runner import DockerRunner
from flowc.emulator.events import EventBus
from flowc.emulator.history import History
from flowc.emulator.runlogs import RunLog
from flowc.emulator.runners import Attempt, AttemptResult, ProcessRunner, StartError
from flowc.emulator.secrets import SECRETS_FILE, env_var_for
from flowc.emulator.versions import Choice, Versions
from flowc.targets.operations import start_window_s

MAX_CONCURRENT_ATTEMPTS = 16


def retry_delay(failed_attempt: int, first: int | None = None) -> float:
    """Virtual seconds to wait after attempt N failed: 10s, 20s, 40s, ... at most 6m, or
    from `retry_backoff` (`first`) doubling, at most 6m or `first` when that is longer."""
    base = first if first is not None else 10
    return float(min(base * 2 ** (failed_attempt - 1), max(360, base)))


def jitter_delay(task: Task, scheduled_at: datetime | None, seed: int) -> float:
    """How late (virtual seconds, whole) a fire of a task with `jitter` starts: spread over
    [0, jitter], the same for the same seed, task and fire, so a run can be reproduced."""
    if not task.jitter_s or scheduled_at is None:
        return 0.0
    key = f"{seed}:{task.name}:{scheduled_at.astimezone(UTC).isoformat()}"
    return float(random.Random(key).randint(0, task.jitter_s))


@dataclass(frozen=True)
class Held:
    """A fire waiting for the run in flight to end (`overlap = skip`)."""

    app: App
    task: Task
    fire: datetime | None
    running: list[str]


@dataclass
class RunOutcome:
    run_id: str
    task: str
    status: str  # succeeded | failed | dead_lettered | interrupted | abandoned
    exit_code: int | None
    attempts: int
    error: str | None = None
    version: int | None = None  # the task code version the run used


class Executor:
    """Starts runs in threads and carries each one to its outcome."""

    def __init__(
        self,
        clock: Clock,
        bus: EventBus,
        history: History,
        cloud: Cloud | None,
        output: Callable[[str, str, str], None],
        note: Callable[[Diagnostic], None],
        message: Callable[[str], None] = print,
        docker: DockerRunner | None = None,
    ):
        self.clock = clock
        self.bus = bus
        self.history = history
        self.cloud = cloud
        self.note = note
        self.process = ProcessRunner(output, on_spawn=self._spawned)
        self.docker = docker or DockerRunner(output)
        self.stopping = threading.Event()  # no further attempts; cancels retry waits
        self.abort = threading.Event()  # a second Ctrl-C: no more grace
        self._slots = threading.Semaphore(MAX_CONCURRENT_ATTEMPTS)
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self.retries_enabled = True
        self.alerts = AlertTracker(cloud, message)
        self.versions: Versions | None = None  # set by the session
        self.message = message
        self.until: datetime | None = None  # end of the `--for` window, set by the session
        self._timelines: dict[str, Timeline] = {}  # run id -> its own time
        self._running: dict[str, set[str]] = {}  # task -> its runs in flight (overlap)
        self._replaced: set[str] = set()  # runs stopped by a newer one (`overlap = replace`)
        self._held: dict[str, Held] = {}  # task -> a fire waiting for its run (`skip`)
        self._inputs: dict[str, str | None] = {}  # run id -> its input (JSON object text)
        self.paused: set[str] = set()  # tasks paused from the dev view
        self.seed = 0  # jitter: the same seed gives the same delays
        bus.run_time = self.time_of

    def time_of(self, run_id: str) -> datetime | None:
        """A run's own virtual time (None once it has ended)."""
        line = self._timelines.get(run_id)
        return line.now() if line is not None else None

    def _now(self, run_id: str) -> datetime:
        return self.time_of(run_id) or self.clock.now()

    def _admit(self, app: App, task: Task, scheduled_at: datetime | None) -> bool:
        """Whether a fire starts a run now: not while the task is paused (`enabled = false`
        or the dev view's pause key: `skipped`), nor under `overlap = skip` while a run is
        in flight (the fire is held, see `_hold`); `overlap = replace` stops the runs in
        flight first."""
        with self._lock:
            running = sorted(self._running.get(task.name, ()))
        paused = not task.enabled or task.name in self.paused
        if paused:
            self.bus.emit("skipped", task.name, at=scheduled_at, reason="paused")
            return False
        if running and task.overlap == "skip":
            self._hold(Held(app, task, scheduled_at, running))
            return False
        if running and task.overlap == "replace":
            for run_id in running:
                self._replaced.add(run_id)
                self.process.terminate_run(run_id)
                self.docker.terminate_run(run_id)
        return True

    def _hold(self, held: Held) -> None:
        """`overlap = skip`: a fire during a run waits for it, as a CronJob with `Forbid`
        does; only the latest waits (an earlier one is skipped, as the CronJob controller
        starts only the most recent missed time). A fire without a time is skipped."""
        if held.fire is None:
            self._skip(held)
            return
        with self._lock:
            earlier = self._held.get(held.task.name)
            self._held[held.task.name] = held
        if earlier is not None:
            self._skip(earlier)

    def _skip(self, held: Held) -> None:
        self.bus.emit("skipped", held.task.name, at=held.fire, reason="overlap",
                      running=held.running)

    def _release(self, held: Held, ended: datetime) -> None:
        """The run a held fire waited for ended at `ended`: the fire starts then if that
        is within its start window (catch_up, at least a minute, plus the jitter it may be
        delayed by: the same rule as k8s's startingDeadlineSeconds and the clouds'
        wrappers), else it is skipped."""
        window = timedelta(seconds=start_window_s(held.task) + held.task.jitter_s)
        past = self.until is not None and ended > self.until  # the `--for` window is over
        if self.stopping.is_set() or past or held.fire is None or ended > held.fire + window:
            self._skip(held)
            return
        self.submit(held.app, held.task, held.fire, start=ended)

    def choose(self, task: Task, moment: datetime) -> Choice:
        """The code version a run of `task` fired at `moment` uses."""
        choice = self.versions.choose(task, moment) if self.versions is not None else None
        return choice or Choice(0)

    # starting runs -----------------------------------------------------------------

    def submit(self, app: App, task: Task, scheduled_at: datetime | None,
               start: datetime | None = None) -> str:
        """Start a scheduled run in its own thread (at `start` when a held fire starts
        late, else at the fire); returns its run id."""
        run_id = _new_run_id()
        if not self._admit(app, task, scheduled_at):
            return run_id
        # the timeline holds the clock at the fire from now on: nothing passes it unseen
        self._timelines[run_id] = self.clock.timeline(start or scheduled_at)
        choice = self.choose(task, scheduled_at or self.clock.now())
        self._record_start(app, task, run_id, scheduled_at, "schedule", choice)  # write-ahead
        with self._lock:
            self._running.setdefault(task.name, set()).add(run_id)
        late = (start - scheduled_at).total_seconds() if start and scheduled_at else None
        self.bus.emit("scheduled", task.name, at=scheduled_at, run_id=run_id,
                      version=choice.version or None,
                      jitter_s=jitter_delay(task, scheduled_at, self.seed) or None,
                      held_s=round(late, 3) if late else None)
        thread = threading.Thread(
            target=self._run_thread, args=(app, task, run_id, scheduled_at, "schedule", choice),
            name=f"run-{task.name}-{run_id}", daemon=True,
        )  # fmt: skip
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return run_id

    def run_now(self, app: App, task: Task, input: str | None = None) -> RunOutcome:
        """Run a task once in this thread (`flowc run`); `input` replaces the task's."""
        return self._run_here(app, task, _new_run_id(), "manual", input)

    def replay(self, app: App, task: Task, original_run_id: str,
               input: str | None = None) -> RunOutcome:
        """Run a dead letter again (`flowc dlq redrive`), recording which letter it replays."""
        run_id = _new_run_id()
        self.history.redrive(original_run_id, run_id)
        return self._run_here(app, task, run_id, "redrive", input)

    def _run_here(self, app: App, task: Task, run_id: str, trigger: str,
                  input: str | None) -> RunOutcome:
        """A run in this thread, on its own timeline from now."""
        self._timelines[run_id] = self.clock.timeline()
        if input is not None:
            self._inputs[run_id] = input
        try:
            return self.run(app, task, run_id, None, trigger)
        finally:
            self._end_timeline(run_id)

    def _run_thread(self, app: App, task: Task, run_id: str, *args: Any) -> None:
        try:
            self.run(app, task, run_id, *args)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the run `running`
            self._crashed(task, run_id, exc)
        finally:
            ended = self._now(run_id)
            with self._lock:
                runs = self._running.get(task.name, set())
                runs.discard(run_id)
                held = None if runs else self._held.pop(task.name, None)
            if held is not None:  # before this timeline closes: the clock stays at `ended`
                self._release(held, ended)
            self._end_timeline(run_id)
            with self._lock:  # last: wait_idle never sees no thread while a fire is held
                self._threads.discard(threading.current_thread())

    def _end_timeline(self, run_id: str) -> None:
        line = self._timelines.pop(run_id, None)
        if line is not None:
            line.close()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._threads)

    def wait_idle(self, timeout: float | None, stop: threading.Event | None = None) -> bool:
        """Wait for every run to finish; False if some are still going after `timeout`
        real seconds (None: no limit) or when `stop` is set."""
        deadline = None if timeout is None else self.clock.wall().timestamp() + timeout
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return True
            remaining = 1.0 if deadline is None else deadline - self.clock.wall().timestamp()
            if remaining <= 0 or self.abort.is_set() or (stop is not None and stop.is_set()):
                return False
            threads[0].join(min(remaining, 0.1))

    def shutdown(self, grace: float, term_grace: float = 2.0) -> None:
        """Let running attempts finish for `grace` seconds, then SIGTERM, then SIGKILL."""
        self.stopping.set()
        self.wait_idle(grace)
        if self.abort.is_set():
            term_grace = 0
        self.process.terminate_all(term_grace)
        self.docker.terminate_all(term_grace)
        self.abort.clear()
        self.wait_idle(term_grace + 3)

    # one run -------------------------------------------------------------------------

    def run(
        self, app: App, task: Task, run_id: str, scheduled_at: datetime | None, trigger: str,
        choice: Choice | None = None,
    ) -> RunOutcome:  # fmt: skip
        now = self._now(run_id)
        choice = choice or self.choose(task, now)
        version = choice.version or None
        self._record_start(app, task, run_id, scheduled_at, trigger, choice)
        log = RunLog(self.history.path.parent, app.name, task.name, run_id)
        max_attempts = 1 + (task.retries if self.retries_enabled else 0)
        result = AttemptResult(exit_code=None, interrupted=True, error="not started")
        longest, done = 0.0, 0
        abandoned: str | None = None
        next_due = now
        self._inputs.setdefault(run_id, task.input)
        delay = jitter_delay(task, scheduled_at, self.seed) if trigger == "schedule" else 0.0
        try:
            for number in range(1, max_attempts + 1):
                if number == 1 and delay and scheduled_at is not None:
                    if self._timelines[run_id].sleep_until(
                            scheduled_at + timedelta(seconds=delay), self.stopping):
                        break  # shut down during the jitter: nothing ran
                if number > 1:
                    if self._timelines[run_id].sleep_until(next_due, self.stopping):
                        result.interrupted = True  # shutdown during the back-off
                        break
                    self.bus.emit("retried", task.name, run_id=run_id, attempt=number,
                                  previous_exit_code=result.exit_code,
                                  version=version)  # fmt: skip
                elif self.stopping.is_set():
                    break  # shut down before the first attempt: nothing ran
                result = self._attempt(app, task, run_id, number, max_attempts, scheduled_at,
                                       choice, log)
                done = number
                longest = max(longest, result.duration_s)
                if result.ok:
                    break
                final = number == max_attempts or result.error is not None or result.interrupted
                if not final:
                    next_due = self._now(run_id) + timedelta(
                        seconds=retry_delay(number, task.retry_backoff_s))
                    if self.until is not None and next_due > self.until:
                        abandoned = (f"the --for window ended before attempt {number + 1} "
                                     f"(due {iso(next_due)})")  # fmt: skip
                        final = True
                    elif task.max_age_s is not None and (
                            next_due - (scheduled_at or now)).total_seconds() > task.max_age_s:
                        final = True  # `max_age`: no attempt this long after the fire
                self.bus.emit(
                    "failed", task.name, run_id=run_id, attempt=number,
                    exit_code=result.exit_code, timed_out=result.timed_out or None,
                    interrupted=result.interrupted or None, error=result.error, final=final,
                    duration_s=round(result.duration_s, 3), version=version,
                )  # fmt: skip
                if final:
                    break
        except KeyboardInterrupt:  # `flowc run` interrupted: record it, then let it go on
            result.interrupted = True
            self._finish(app, task, run_id, done, result, version)
            raise
        outcome = self._finish(app, task, run_id, done, result, version, abandoned)
        if done:
            self.alerts.record(app, task, self._now(run_id), outcome.status != "succeeded",
                               longest, outcome.status == "dead_lettered")  # fmt: skip
        return outcome

    def _record_start(
        self, app: App, task: Task, run_id: str, scheduled_at: datetime | None, trigger: str,
        choice: Choice,
    ) -> None:  # fmt: skip
        """The run's row, before anything runs (a second call for the same run is a no-op)."""
        self.history.start_run(
            run_id, app.name, task.name, trigger, iso(scheduled_at) if scheduled_at else None,
            iso(self._now(run_id)), iso(self.clock.wall()), choice.version or None,
        )  # fmt: skip

    def _spawned(self, attempt: Attempt, pid: int, started: int | None) -> None:
        self.history.attempt_process(attempt.run_id, attempt.number, pid, started)

    def _crashed(self, task: Task, run_id: str, exc: Exception) -> None:
        """Last resort: close a run whose thread failed inside flowc, and say so."""
        wall = iso(self.clock.wall())
        error = f"internal error in flowc: {type(exc).__name__}: {exc}"
        self.history.finish_run(run_id, "failed", wall, wall, None, error=error)
        self.message(f"flowc: run {run_id} of `{task.name}` failed: {error}")

    def _attempt(
        self, app: App, task: Task, run_id: str, number: int, of: int,
        scheduled_at: datetime | None, choice: Choice, log: RunLog | None = None,
    ) -> AttemptResult:  # fmt: skip
        version = choice.version or None
        with self._slots:
            v_start, w_start = self._now(run_id), self.clock.wall()
            started = False
            try:
                env = self._environment(app, task, run_id, number, scheduled_at)
                attempt = Attempt(app, task, run_id, number, env,
                                  choice.code_dir or code_dir(app, task),
                                  log.sink(number) if log is not None else None)
                self.history.start_attempt(run_id, number, iso(v_start), iso(w_start))
                self.bus.emit("started", task.name, run_id=run_id, attempt=number, of=of,
                              version=version)
                started = True
                runner = self.docker if self.docker.handles(task) else self.process
                result = runner.run(attempt)
                if result.diagnostic is not None:  # e.g. the Docker engine went away
                    self._note_once(task, result.diagnostic)
            except StartError as exc:
                self._note_once(task, exc.diagnostic)
                result = AttemptResult(exit_code=None, error=exc.diagnostic.message,
                                       diagnostic=exc.diagnostic)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - a runner bug must not kill the emulator
                result = AttemptResult(exit_code=None, error=f"{type(exc).__name__}: {exc}")
            if not started:
                self.bus.emit("started", task.name, run_id=run_id, attempt=number, of=of,
                              version=version)
            if result.ok:
                self.bus.emit("succeeded", task.name, run_id=run_id, attempt=number,
                              exit_code=0, duration_s=round(result.duration_s, 3),
                              version=version)  # fmt: skip
            self.history.record_attempt(
                run_id, number, iso(v_start), iso(self._now(run_id)), iso(w_start),
                iso(self.clock.wall()), result.exit_code, result.timed_out, result.duration_s,
                result.error,
            )  # fmt: skip
            return result

    def _note_once(self, task: Task, diagnostic: Diagnostic) -> None:
        key = f"{task.name}:{diagnostic.code}"
        if key not in self._warned:  # the full diagnostic once per task and cause
            self._warned.add(key)
            self.note(diagnostic)

    def _environment(
        self, app: App, task: Task, run_id: str, number: int, scheduled_at: datetime | None
    ) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.cloud is not None:  # containers share the host network: loopback works
            env.update(self.cloud.task_environment())
        for var in task.env:
            if isinstance(var.value, SecretRef):
                value = self._secret(app, task, var.value.secret, var.span)
            else:
                value = var.value
            env[var.name] = value
        event = {"app": app.name, "task": task.name, "run_id": run_id, "attempt": number,
                 "scheduled_at": iso(scheduled_at) if scheduled_at else None}  # fmt: skip
        given = self._inputs.get(run_id, task.input)
        if given is not None:  # `input`, or `flowc run --input`: the event's and FLOWC_INPUT
            event["input"] = json.loads(given)
            env["FLOWC_INPUT"] = given
        env.update(
            FLOWC_APP=app.name, FLOWC_TASK=task.name, FLOWC_RUN_ID=run_id,
            FLOWC_ATTEMPT=str(number), FLOWC_SCHEDULED_AT=event["scheduled_at"] or "",
            FLOWC_EVENT=json.dumps(event),
        )  # fmt: skip
        return env

    def _secret(self, app: App, task: Task, name: str, span: Any) -> str:
        value = self.cloud.get_secret(app, name) if self.cloud is not None else None
        if value is None:
            raise StartError(
                Diagnostic(
                    "E503",
                    f"task `{task.name}` reads secret `{name}`, which has no value in the "
                    "emulator's secret store",
                    span,
                    help=f"set {env_var_for(name)} or add `{name} = ...` to {SECRETS_FILE} "
                    "next to the .flow file",
                )
            )
        return value

    def _finish(
        self, app: App, task: Task, run_id: str, attempts: int, result: AttemptResult,
        version: int | None = None, abandoned: str | None = None,
    ) -> RunOutcome:
        """`abandoned`: why the run stopped before its next attempt (it did not succeed)."""
        queue = message_id = None
        error = abandoned or result.error
        run_input = self._inputs.pop(run_id, task.input)
        if run_id in self._replaced:  # `overlap = replace`: not a failure of the task
            self._replaced.discard(run_id)
            status, error = "interrupted", "replaced by a newer run (overlap = replace)"
            self.history.finish_run(run_id, status, iso(self._now(run_id)),
                                    iso(self.clock.wall()), result.exit_code, False, error)
            return RunOutcome(run_id, task.name, status, result.exit_code, attempts, error,
                              version)
        if result.ok:
            status = "succeeded"
        elif attempts == 0:
            status = "interrupted"  # stopped before its first attempt: nothing ran
        elif task.on_failure == "dead_letter" and self.cloud is not None:
            status = "abandoned" if abandoned else "dead_lettered"
            body = {
                "app": app.name, "task": task.name, "run_id": run_id, "attempt": attempts,
                "attempts": attempts, "exit_code": result.exit_code,
                "timed_out": result.timed_out, "interrupted": result.interrupted,
                "error": result.error, "stderr_tail": result.stderr_tail,
                "failed_at": iso(self._now(run_id)), "abandoned": abandoned,
                "input": run_input,
            }  # fmt: skip
            try:
                queue, message_id = self.cloud.send_dead_letter(app, task.name, body)
                self.bus.emit("dead_lettered", task.name, run_id=run_id, attempts=attempts,
                              exit_code=result.exit_code, queue=queue,
                              message_id=message_id, version=version,
                              abandoned=abandoned)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - the emulator's AWS side went away
                status = "failed"
                error = f"could not send to the dead-letter queue: {exc}"
        else:
            status = "abandoned" if abandoned else "interrupted" if result.interrupted else "failed"
            if task.name not in self._warned and not result.interrupted:
                self._warned.add(task.name)  # once per task
                self.note(
                    Diagnostic(
                        "W502",
                        f"task `{task.name}` failed after its last attempt and has "
                        "`on_failure = discard`; the run is kept only in the local history "
                        "(`flowc runs`), in the cloud only in the logs",
                        task.span,
                        help="set `on_failure = dead_letter` to keep failed runs in a queue",
                    )
                )
        self.history.finish_run(
            run_id, status, iso(self._now(run_id)), iso(self.clock.wall()), result.exit_code,
            result.timed_out, error, result.stderr_tail or None, queue, message_id,
        )  # fmt: skip
        return RunOutcome(run_id, task.name, status, result.exit_code, attempts, error, version)


def code_dir(app: App, task: Task) -> Path:
    return (Path(app.base_dir) / task.code_dir).resolve()


def _new_run_id() -> str:
    return uuid.uuid4().hex[:12]
