"""Alerts in the emulator: evaluated like the cloud's alarms, published to SNS.

Each `alert METRIC OP N notify ...` of a task is evaluated whenever one of its runs
ends, over the last 5 minutes of virtual time (the period the targets' alarms use):
`errors` = runs that failed after their last attempt, `duration` = the slowest
run in seconds, `dead_letters` = runs sent to the dead-letter queue. Like an alarm,
it notifies on the transition into the alarm state (one SNS message to the
alert's topic), not on every run while it stays there.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from flowc.compiler.ir import App, Task
from flowc.emulator.cloud import Cloud

PERIOD = timedelta(minutes=5)
COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


class AlertTracker:
    def __init__(self, cloud: Cloud | None, message: Callable[[str], None]):
        self.cloud = cloud
        self.message = message
        self._samples: dict[str, deque[tuple[datetime, bool, float, bool]]] = {}
        self._alarm: dict[tuple[str, int], bool] = {}
        self._lock = threading.Lock()

    def metrics(self, task: str, now: datetime) -> dict[str, float]:
        samples = self._samples.get(task, deque())
        recent = [s for s in samples if s[0] > now - PERIOD]
        return {
            "errors": float(sum(1 for s in recent if s[1])),
            "duration": max((s[2] for s in recent), default=0.0),
            "dead_letters": float(sum(1 for s in recent if s[3])),
        }

    def record(
        self, app: App, task: Task, now: datetime, failed: bool, duration_s: float,
        dead_lettered: bool,
    ) -> list[int]:  # fmt: skip
        """Add one finished run; returns the indexes of alerts that went into alarm."""
        if not task.alerts:
            return []
        with self._lock:
            samples = self._samples.setdefault(task.name, deque())
            samples.append((now, failed, duration_s, dead_lettered))
            while samples and samples[0][0] <= now - PERIOD:
                samples.popleft()
            values = self.metrics(task.name, now)
            fired = []
            for index, alert in enumerate(task.alerts):
                check = COMPARATORS.get(alert.comparator)
                value = values.get(alert.metric)
                if check is None or value is None:
                    continue
                holds = check(value, alert.threshold)
                was = self._alarm.get((task.name, index), False)
                self._alarm[(task.name, index)] = holds
                if holds and not was:
                    fired.append(index)
        for index in fired:
            self._notify(app, task, index, values)
        return fired

    def _notify(self, app: App, task: Task, index: int, values: dict[str, float]) -> None:
        alert = task.alerts[index]
        subject = (
            f"flowc alert: {app.name}/{task.name} {alert.metric} {alert.comparator} "
            f"{alert.threshold:g} (now {values[alert.metric]:g}, last 5 minutes)"
        )
        topics = self.cloud.report.topics.get(task.name, []) if self.cloud else []
        where = ", ".join(alert.notify)
        if index < len(topics) and self.cloud is not None:
            try:
                self.cloud.publish_alert(topics[index], subject, subject)
            except Exception as exc:  # noqa: BLE001 - alerting is best effort locally
                where = f"nobody ({exc})"
        self.message(f"{subject} -> notified {where}")
