"""`Schedule`, the IR value for one schedule as written: (kind, text, timezone).

Its `spec` (the normalized set, flowc.compiler.schedules.spec) is compiled once per
(kind, text) and cached, so building a Schedule is cheap and it stays hashable and
comparable by what the user wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flowc.compiler.schedules.describe import describe
from flowc.compiler.schedules.evaluate import fires_between, next_fires
from flowc.compiler.schedules.parse import compile_spec
from flowc.compiler.schedules.spec import Spec
from flowc.diagnostics import Span


@dataclass(frozen=True)
class Schedule:
    kind: str  # "calendar" | "cron" | "every" | "at"
    text: str  # the calendar string, the five cron fields, "90m", or the ISO time
    timezone: str  # IANA name the schedule is read in
    span: Span | None = field(default=None, compare=False)

    @property
    def source(self) -> str:
        """The schedule as written after `schedule =` in a .flow file."""
        if self.kind == "calendar":
            return '"' + self.text + '"'
        if self.kind == "every":
            return f"every {self.text}"
        return f'{self.kind}("{self.text}")'

    @property
    def spec(self) -> Spec:
        """The normalized model (raises ScheduleError if the text is invalid)."""
        return compile_spec(self.kind, self.text)

    @property
    def zone(self) -> str:
        """The timezone actually used: one named in the expression wins."""
        return self.spec.timezone or self.timezone

    def next_fires(self, after: datetime, n: int) -> list[datetime]:
        """The next `n` fire times strictly after `after`, aware, in `zone`."""
        return next_fires(self, after, n)

    def fires_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Every fire time t with start < t <= end."""
        return fires_between(self, start, end)

    def describe(self) -> str:
        """The schedule in words ("at 09:00 on weekdays, Europe/Berlin"), from `spec`."""
        return describe(self.spec, self.zone)

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "text": self.text,
            "timezone": self.timezone,
            "source": self.source,
        }
