"""How often a task runs in one calendar month, per target: exact, from the schedule evaluator.

The month is taken in the task's timezone: from local midnight on the 1st up to (not
including) local midnight on the 1st of the next month, so a DST month has 743 or 745
hours. Fires come from `Schedule.fires_between` (the evaluator behind `flowc schedule`
and the emulator); nothing here parses a schedule.

Coinciding fires: on every target each expression of `Task.schedules_for(target)` is its
own trigger resource (an `aws_scheduler_schedule`, a `google_cloud_scheduler_job`, a
CronJob). When two of a task's schedules fire at the same instant, both triggers start the
task, so the cloud runs it twice and bills both runs. `runs` counts that way (the sum over
the task's schedules deployed on the target); `distinct` counts distinct instants, what a
single trigger would run. One schedule's own expressions are a disjoint split (the
translator emits expressions whose union is the schedule's set of instants), so they add
no duplicates.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flowc.compiler.ir import Task
from flowc.compiler.schedules.model import Schedule


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def window(self, timezone: str) -> tuple[datetime, datetime]:
        """[start, end) of the month in `timezone`, as UTC datetimes."""
        tz = ZoneInfo(timezone)
        following = self.next()
        start = datetime(self.year, self.month, 1, tzinfo=tz).astimezone(UTC)
        end = datetime(following.year, following.month, 1, tzinfo=tz).astimezone(UTC)
        return start, end

    def hours(self, timezone: str) -> float:
        """Elapsed hours of the month in `timezone` (DST months are an hour short or long)."""
        start, end = self.window(timezone)
        return (end - start).total_seconds() / 3600


def month_after(now: datetime) -> Month:
    """The calendar month after `now`'s (the default for `flowc cost`)."""
    return Month(now.year, now.month).next()


def fires_between(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Every fire of `schedule` at or after `start` and before `end`, as UTC datetimes.

    The evaluator's `fires_between(a, b)` returns a < t <= b; fire times are whole
    seconds, so moving both ends back by a microsecond gives start <= t < end.
    """
    tick = timedelta(microseconds=1)
    return [t.astimezone(UTC) for t in schedule.fires_between(start - tick, end - tick)]


@dataclass(frozen=True)
class RunCount:
    """A task's runs on one target in one month."""

    runs: int  # every trigger's fires (coinciding fires of two schedules count twice)
    distinct: int  # distinct instants
    triggers: int  # trigger resources (expressions) deployed on the target
    per_schedule: tuple[int, ...]  # fires of each deployed schedule, in the task's order
    schedules: tuple[int, ...] = ()  # indexes of the deployed schedules in Task.schedules
    from_source: bool = False  # the IR has no expressions for the target: counted the source


class MonthFires:
    """The fires of each of a task's schedules in one month, computed once per task."""

    def __init__(self, task: Task, month: Month):
        self.task = task
        self.month = month
        start, end = month.window(task.timezone)
        self.fires: list[list[datetime]] = [
            fires_between(schedule, start, end) for schedule in task.schedules
        ]

    def for_target(self, target: str) -> RunCount:
        expressions = self.task.schedules_for(target)
        if expressions:
            indexes = sorted({e.schedule_index for e in expressions})
            triggers = len(expressions)
        else:
            indexes = list(range(len(self.task.schedules)))
            triggers = len(indexes)
        indexes = [i for i in indexes if 0 <= i < len(self.fires)]
        chosen = [self.fires[i] for i in indexes]
        distinct = len(set().union(*chosen)) if chosen else 0
        return RunCount(
            runs=sum(len(f) for f in chosen),
            distinct=distinct,
            triggers=triggers,
            per_schedule=tuple(len(f) for f in chosen),
            schedules=tuple(indexes),
            from_source=not expressions,
        )
