"""Month calendars of fire times: the source's and each target's, compared day by day.

Both come from evaluators, never from re-parsing here: the source's from the task's
schedules (`Schedule.fires_between`, the evaluator behind compile, `flowc schedule` and
the emulator), a target's from its emitted expressions read back and evaluated under
that target's daylight-saving behaviour (flowc.compiler.schedules.emitted). A target day
`differs` when its multiset of fire instants is not the source's (W300 on a day the
clocks skip, W301 on a day they repeat), and is `uncertain` when it depends on what the
target does not document. The page (flowc/report/templates) and `flowc schedule
--calendar` (flowc/report/terminal.py) draw these grids.
"""

from __future__ import annotations

import calendar as cal
import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flowc.compiler.schedules.dst import ONCE, SHIFT, SKIP, TWICE
from flowc.compiler.schedules.emitted import (
    Emitted,
    UnreadableExpression,
    dst_words,
    target_dst_words,
)
from flowc.compiler.schedules.model import Schedule
from flowc.compiler.schedules.spec import GAP_SKIP, OVERLAP_BOTH
from flowc.compiler.schedules.zones import get_zone
from flowc.cost.runs import Month

SAME, EXTRA, MISSING = "same", "extra", "missing"  # a fire compared with the source
DIFFERS, UNCERTAIN = "differs", "uncertain"  # a day compared with the source
GAP, OVERLAP = "gap", "overlap"
DST_CODES = {GAP: "W300", OVERLAP: "W301"}
WEEKDAY_HEADS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Fire:
    at: datetime  # aware, in the calendar's zone
    label: str  # "09:00"; with the zone's abbreviation on days the offset changes
    status: str = SAME  # EXTRA: only the target fires; MISSING: only the source does


@dataclass
class Day:
    day: date
    fires: list[Fire] = field(default_factory=list)
    status: str = SAME  # SAME, DIFFERS or UNCERTAIN
    dst: str | None = None  # GAP or OVERLAP when the zone changes its offset that day
    today: bool = False

    @property
    def code(self) -> str | None:
        """W300/W301 for a day that differs because of a daylight-saving change."""
        return DST_CODES.get(self.dst or "") if self.status != SAME else None

    @property
    def runs(self) -> int:
        return sum(1 for f in self.fires if f.status != MISSING)

    @property
    def changes(self) -> list[Fire]:
        return [f for f in self.fires if f.status != SAME]

    def by_hour(self) -> list[tuple[str, list[str]]]:
        """The day's runs grouped by hour, compact enough for a minutely schedule:
        [("09", ["00", "15"]), ("02 CET", ["00:30"])] (minutes, or minutes:seconds)."""
        groups: dict[str, list[str]] = {}
        for f in self.fires:
            if f.status == MISSING:
                continue
            head = f"{f.at.hour:02d}" + (f" {f.at.tzname()}" if self.dst else "")
            minute = f"{f.at.minute:02d}" + (f":{f.at.second:02d}" if f.at.second else "")
            groups.setdefault(head, []).append(minute)
        return list(groups.items())


@dataclass
class MonthCalendar:
    title: str  # "source (systemd calendar)", "aws"
    month: Month
    zone: str
    days: list[Day]
    expressions: tuple[str, ...] = ()
    error: str | None = None  # why there is no calendar (e.g. the target cannot say it)
    dst: str = ""  # what this side does when the clocks change, in words

    @property
    def weeks(self) -> list[list[Day | None]]:
        """Monday-first rows; None pads the days of other months."""
        lead = cal.monthrange(self.month.year, self.month.month)[0]
        cells: list[Day | None] = [None] * lead + list(self.days)
        cells += [None] * (-len(cells) % 7)
        return [cells[i:i + 7] for i in range(0, len(cells), 7)]

    @property
    def marked(self) -> list[Day]:
        return [d for d in self.days if d.status != SAME]

    @property
    def runs(self) -> int:
        return sum(d.runs for d in self.days)


def source_fires(schedules: Sequence[Schedule], start: datetime, end: datetime,
                 zone: str) -> list[datetime]:
    """The task's fires in (start, end]: its schedules merged, one per instant."""
    tz = get_zone(zone)
    merged = heapq.merge(*(s.fires_between(start, end) for s in schedules),
                         key=lambda t: t.timestamp())
    out: list[datetime] = []
    for t in merged:
        if not out or t.timestamp() != out[-1].timestamp():
            out.append(t.astimezone(tz))
    return out


def month_window(month: Month, zone: str) -> tuple[datetime, datetime]:
    """(start, end) for fires_between: local midnight of the 1st (inclusive) to the next."""
    start, end = month.window(zone)
    return start - timedelta(microseconds=1), end - timedelta(microseconds=1)


def source_calendar(title: str, schedules: Sequence[Schedule], month: Month, zone: str,
                    today: date | None = None) -> MonthCalendar:
    start, end = month_window(month, zone)
    fires = source_fires(schedules, start, end, zone)
    policies = {dst_words(SKIP if s.spec.gap == GAP_SKIP else SHIFT,
                          TWICE if s.spec.overlap == OVERLAP_BOTH else ONCE) for s in schedules}
    return MonthCalendar(title, month, zone, _days(month, zone, fires, today),
                         dst="flowc " + "; or ".join(sorted(policies)))


def target_calendar(target: str, emitted: Sequence[Emitted], month: Month, zone: str,
                    source: MonthCalendar, today: date | None = None) -> MonthCalendar:
    """What the target runs (its expressions, grouped by the zone each is read in),
    compared with `source`'s runs day by day, in `zone`."""
    expressions = tuple(e for group in emitted for e in group.expressions)
    start, end = month_window(month, zone)
    try:
        fires = list(heapq.merge(*(group.fires_between(start, end) for group in emitted),
                                 key=lambda t: t.timestamp()))
        uncertain = set().union(*(group.uncertain_days(start, end) for group in emitted))
    except UnreadableExpression as err:
        return MonthCalendar(target, month, zone, [], expressions, error=str(err))
    days = _days(month, zone, fires, today)
    for mine, theirs in zip(days, source.days, strict=True):
        _compare(mine, theirs, zone)
        if mine.status == SAME and mine.day in uncertain:
            mine.status = UNCERTAIN
    return MonthCalendar(target, month, zone, days, expressions, dst=target_dst_words(target))


def _days(month: Month, zone: str, fires: list[datetime], today: date | None) -> list[Day]:
    tz = get_zone(zone)
    by_day: dict[date, list[datetime]] = {}
    for t in fires:
        by_day.setdefault(t.astimezone(tz).date(), []).append(t)
    out = []
    for n in range(1, month.days + 1):
        day = date(month.year, month.month, n)
        dst = offset_change(day, zone)
        out.append(Day(day, [Fire(t, fire_label(t, dst is not None)) for t in by_day.get(day, [])],
                       dst=dst, today=day == today))
    return out


def _compare(mine: Day, source: Day, zone: str) -> None:
    """Mark the fires only one side has; the day differs if any."""
    have = Counter(f.at.timestamp() for f in mine.fires)
    want = Counter(f.at.timestamp() for f in source.fires)
    if have == want:
        return
    extra, missing = have - want, want - have
    tz = get_zone(zone)
    fires = []
    for f in mine.fires:
        key = f.at.timestamp()
        if extra[key]:
            extra[key] -= 1
            fires.append(Fire(f.at, f.label, EXTRA))
        else:
            fires.append(f)
    for f in source.fires:
        if missing[f.at.timestamp()]:
            missing[f.at.timestamp()] -= 1
            fires.append(Fire(f.at.astimezone(tz), f.label, MISSING))
    fires.sort(key=lambda f: f.at.timestamp())
    mine.fires = fires
    mine.status = DIFFERS


def offset_change(day: date, zone: str) -> str | None:
    """GAP when the zone's UTC offset grows during `day`, OVERLAP when it shrinks."""
    tz = get_zone(zone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
    before, after = start.utcoffset(), end.utcoffset()
    if before is None or after is None or before == after:
        return None
    return GAP if after > before else OVERLAP


def fire_label(t: datetime, with_zone: bool) -> str:
    text = t.strftime("%H:%M:%S" if t.second else "%H:%M")
    return f"{text} {t.tzname()}" if with_zone else text
