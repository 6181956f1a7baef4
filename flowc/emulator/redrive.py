"""`flowc dlq redrive`: replay dead letters through the normal run path.

Per letter, in the order they were sent: if the history already has a finished replay
of it (a redrive that stopped between recording the replay and deleting the message),
delete it; otherwise record which run replays it, run that (retries, and a new dead
letter if it fails again), and delete the message only once the outcome is recorded.
A replay that was interrupted keeps its letter. See deadletters.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from flowc.compiler.ir import App, Task
from flowc.emulator.cloud import Cloud
from flowc.emulator.deadletters import Letter
from flowc.emulator.executor import Executor, retry_delay
from flowc.emulator.history import History

RECORDED = ("succeeded", "failed", "dead_lettered", "abandoned")  # outcomes that count


@dataclass
class Replayed:
    letter: Letter
    replay_run_id: str
    status: str
    exit_code: int | None = None
    earlier: bool = False  # replayed by an earlier, interrupted redrive


def worst_case_s(task: Task) -> float:
    """How long one run of `task` can take: every attempt times out, every back-off."""
    attempts = task.retries + 1
    return attempts * task.timeout_s + sum(retry_delay(n) for n in range(1, attempts)) + 60


def redrive(app: App, task: Task, cloud: Cloud, history: History, executor: Executor,
            run_ids: set[str] | None) -> Iterator[Replayed]:
    """Replay the task's dead letters (`run_ids`, or all); yields one result per letter."""
    waiting = [x for x in cloud.dead_letters(app, task.name)
               if run_ids is None or x.run_id in run_ids]  # fmt: skip
    hold = worst_case_s(task) * max(1, len(waiting))
    letters = cloud.take_dead_letters(app, task.name, run_ids, hold)
    for letter in letters:
        previous = history.replay_of(letter.run_id)
        if previous is not None and previous[1] in RECORDED:
            cloud.delete_dead_letter(app, task.name, letter)
            yield Replayed(letter, previous[0], previous[1], earlier=True)
            continue
        outcome = executor.replay(app, task, letter.run_id, letter.body.get("input"))
        if outcome.status not in RECORDED:
            yield Replayed(letter, outcome.run_id, outcome.status, outcome.exit_code)
            return  # stopped: this letter and the rest stay in the queue
        cloud.delete_dead_letter(app, task.name, letter)
        yield Replayed(letter, outcome.run_id, outcome.status, outcome.exit_code)
