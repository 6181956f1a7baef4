"""PLACEHOLDER owned by the schedules work (issue 3): the one normalized schedule model.

Contract the rest of flowc relies on (keep these names):
- `Schedule` is a frozen, hashable dataclass with at least
  `kind` ("calendar" | "cron" | "every" | "at"), `text` (the expression body: the
  calendar string, the five cron fields, the duration like "90m", or the ISO time),
  `timezone` (IANA name), `span` (flowc.compiler.diagnostics.Span | None, compare=False),
  a `source` property (as written after `schedule =`, e.g. 'every 90m'),
  `next_fires(after: datetime, n: int) -> list[datetime]` (tz-aware, strictly after),
  and `to_json() -> dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowc.compiler.diagnostics import Span


@dataclass(frozen=True)
class Schedule:
    kind: str
    text: str
    timezone: str
    span: Span | None = field(default=None, compare=False)

    @property
    def source(self) -> str:
        if self.kind == "calendar":
            return '"' + self.text + '"'
        if self.kind == "every":
            return f"every {self.text}"
        return f'{self.kind}("{self.text}")'

    def to_json(self) -> dict:
        return {"kind": self.kind, "text": self.text, "timezone": self.timezone}
