"""PLACEHOLDER API owned by the schedules work (issue 3). Keep these signatures.

- parse_schedule(kind, text, timezone, span=None) -> Schedule, raises ScheduleError
- translate(schedule, target) -> list[str]: expressions whose union is exact,
  raises Untranslatable
- schedule_warnings(schedule, target) -> list[ScheduleWarning]
"""

from __future__ import annotations

from dataclasses import dataclass

from flowc.compiler.diagnostics import Span
from flowc.compiler.schedules.model import Schedule


class ScheduleError(Exception):
    """A schedule that does not parse or means nothing; becomes a diagnostic."""

    def __init__(self, code: str, message: str, help: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.help = help


class Untranslatable(ScheduleError):
    """No set of expressions of a target can say this schedule exactly."""


@dataclass(frozen=True)
class ScheduleWarning:
    code: str
    message: str
    help: str | None = None


def parse_schedule(kind: str, text: str, timezone: str, span: Span | None = None) -> Schedule:
    return Schedule(kind=kind, text=text, timezone=timezone, span=span)


def translate(schedule: Schedule, target: str) -> list[str]:
    return []


def schedule_warnings(schedule: Schedule, target: str) -> list[ScheduleWarning]:
    return []
