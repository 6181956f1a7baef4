"""Errors and warnings raised by the schedules package (each becomes a Diagnostic).

`ScheduleError.where` optionally locates the fault inside the schedule text as
(offset, length); `ScheduleError.span`, when set by `parse_schedule`, is already
narrowed to that place in the source file.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowc.diagnostics import Span


class ScheduleError(Exception):
    """A schedule that does not parse or means nothing; becomes a diagnostic."""

    def __init__(
        self,
        code: str,
        message: str,
        help: str | None = None,
        *,
        where: tuple[int, int] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.help = help
        self.where = where
        self.span: Span | None = None


class Untranslatable(ScheduleError):
    """No set of expressions of a target can say this schedule exactly."""


@dataclass(frozen=True)
class ScheduleWarning:
    code: str
    message: str
    help: str | None = None
