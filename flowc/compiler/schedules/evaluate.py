"""Pure, fast evaluation: the fire times of a schedule after an instant.

Two steps. (1) The local wall-clock times of the model, day by day: each
month's matching days are computed once, and each day's times of day are the
cached union of its rules' sorted times, so a month of every-minute fires
costs a few list operations per day. (2) Wall times to instants in the
schedule's IANA zone (zoneinfo). On days without an offset change that is one
addition per fire; on the few days with one, each wall time is resolved by the
spec's DST policy:

- calendar, every, at (systemd's behaviour, checked against `systemd-analyze
  calendar`): a local time inside a gap does not exist and does not fire; a
  repeated local time fires once, at its first occurrence, except that a search
  starting inside the repeated hour stays in it (systemd continues from the
  offset in effect at the start, via mktime).
- cron (croniter's behaviour, which is also how cron daemons treat fixed-time
  jobs in the spring): a local time inside a gap fires once, the moment the
  clock lands after the gap, when the hour field is restricted, and is skipped
  when the hour field is `*`; a repeated local time fires at both instants.

Two systemd 252 artifacts are deliberately not copied, since every target fires
there: after an open repeat overflows its field across a day boundary systemd
skips the first matches of the next day (`*:0/7` never fires at 00:00), and after
a DST gap that starts off the hour it skips the rest of that hour (Chatham 03:45).
tests/test_schedules_systemd.py pins both.

Wall times are searched from the day before `after`, so repeated hours are
never missed; instants of one day can come after the next day's (an overlap
across midnight), so a small heap orders them. Evaluation stops after 2199.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from flowc.compiler.schedules.spec import (
    GAP_SKIP,
    MAX_YEAR,
    OVERLAP_BOTH,
    Spec,
)
from flowc.compiler.schedules.zones import get_zone, transitions_around


class Scheduled(Protocol):
    """What the evaluator reads of a schedule (flowc.compiler.schedules.model.Schedule)."""

    @property
    def spec(self) -> Spec: ...

    @property
    def zone(self) -> str: ...


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class Plan:
    """Per-spec caches: matching days of each month and the times of each day."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.rules = spec.rules
        self._times: dict[int, tuple[int, ...]] = {}
        self._months: dict[tuple[int, int], list[tuple[int, tuple[int, ...]]]] = {}
        if any(rule.years is None for rule in self.rules):
            self.years: list[int] | None = None
        else:
            self.years = sorted(set().union(*(rule.years or () for rule in self.rules)))

    def month(self, year: int, month: int) -> list[tuple[int, tuple[int, ...]]]:
        key = (year, month)
        cached = self._months.get(key)
        if cached is not None:
            return cached
        masks: dict[int, int] = {}
        for i, rule in enumerate(self.rules):
            for day in rule.days_in(year, month):
                masks[day] = masks.get(day, 0) | (1 << i)
        out = [(day, self._day_times(masks[day])) for day in sorted(masks)]
        self._months[key] = out
        return out

    def _day_times(self, mask: int) -> tuple[int, ...]:
        times = self._times.get(mask)
        if times is None:
            chosen = [rule.times for i, rule in enumerate(self.rules) if mask >> i & 1]
            times = chosen[0] if len(chosen) == 1 else tuple(sorted(set().union(*chosen)))
            self._times[mask] = times
        return times

    def days_from(self, start: date) -> Iterator[tuple[date, tuple[int, ...]]]:
        """Matching local days >= start, with their times of day (seconds)."""
        year, month, first_day = start.year, start.month, start.day
        while year <= MAX_YEAR:
            if self.years is not None:
                later = [y for y in self.years if y >= year]
                if not later:
                    return
                if later[0] != year:
                    year, month, first_day = later[0], 1, 1
            for m in range(month, 13):
                for day, times in self.month(year, m):
                    if day >= first_day:
                        yield date(year, m, day), times
                first_day = 1
            year, month = year + 1, 1

    def walls_from(self, start: datetime) -> Iterator[datetime]:
        """Matching naive local wall times >= start, in order."""
        begin = start.hour * 3600 + start.minute * 60 + start.second + (start.microsecond > 0)
        for day, times in self.days_from(start.date()):
            midnight = datetime(day.year, day.month, day.day)
            for t in times:
                if day == start.date() and t < begin:
                    continue
                yield midnight + timedelta(seconds=t)


@lru_cache(maxsize=1024)
def plan_for(spec: Spec) -> Plan:
    return Plan(spec)


def _offset(zone: ZoneInfo, wall: datetime, fold: int) -> int:
    off = wall.replace(tzinfo=zone, fold=fold).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def _day_seconds(day: date) -> int:
    return (day.toordinal() - _EPOCH_ORDINAL) * 86400


class _Resolver:
    """Wall times of one day to instants (epoch seconds) under the spec's DST policy."""

    def __init__(self, spec: Spec, zone: ZoneInfo, zone_name: str, stay_in: date | None):
        self.spec = spec
        self.zone = zone
        self.zone_name = zone_name
        self.stay_in = stay_in  # systemd: the search began in this day's repeated hour

    def steady_base(self, day: date) -> int | None:
        """Epoch seconds of the day's local midnight if its offset never changes that day."""
        midnight = datetime(day.year, day.month, day.day)
        following = midnight + timedelta(days=1)
        offsets = {
            _offset(self.zone, midnight, 0),
            _offset(self.zone, midnight, 1),
            _offset(self.zone, following, 0),
            _offset(self.zone, following, 1),
        }
        return _day_seconds(day) - offsets.pop() if len(offsets) == 1 else None

    def day(self, day: date, times: tuple[int, ...]) -> list[int]:
        """Sorted instants of a day whose offset changes (the slow path)."""
        midnight = datetime(day.year, day.month, day.day)
        base = _day_seconds(day)
        out: list[int] = []
        for t in times:
            out.extend(self.wall(midnight + timedelta(seconds=t), base + t))
        out.sort()
        return out

    def wall(self, wall: datetime, wall_s: int) -> list[int]:
        first, second = _offset(self.zone, wall, 0), _offset(self.zone, wall, 1)
        if first == second:
            return [wall_s - first]
        if first > second:  # repeated: fold 0 is the earlier instant
            if self.spec.overlap == OVERLAP_BOTH:
                return [wall_s - first, wall_s - second]
            if self.stay_in == wall.date():
                return [wall_s - second]
            return [wall_s - first]
        if self.spec.gap == GAP_SKIP:
            return []
        # Fires when the clock lands after the gap: at the transition itself.
        for tr in transitions_around(self.zone_name, wall_s - second, wall_s - first + 1):
            if wall_s - second < tr.at <= wall_s - first:
                return [tr.at]
        return [wall_s - first]

    def lower_bound(self, day: date) -> int:
        """No wall time on `day` or later maps to an instant before this."""
        midnight = datetime(day.year, day.month, day.day)
        worst = max(_offset(self.zone, midnight, 0), _offset(self.zone, midnight, 1))
        return _day_seconds(day) - worst


def iter_fire_seconds(schedule: Scheduled, after: datetime) -> Iterator[int]:
    """Fire instants (epoch seconds) strictly after `after`, ascending."""
    return iter_spec_seconds(schedule.spec, schedule.zone, after)


def iter_spec_seconds(spec: Spec, zone_name: str, after: datetime) -> Iterator[int]:
    """Fire instants of a compiled spec read in `zone_name`, strictly after `after`.

    Also evaluates specs read back from a target's expressions (flowc.compiler.schedules.
    emitted), whose `gap`/`overlap` are that target's daylight-saving behaviour.
    """
    zone = get_zone(zone_name)
    after = _aware(after)
    after_s = after.timestamp()
    local = after.astimezone(zone)
    stay_in = local.date() if local.fold == 1 and spec.overlap != OVERLAP_BOTH else None
    resolver = _Resolver(spec, zone, zone_name, stay_in)
    heap: list[int] = []
    last = None
    for day, times in plan_for(spec).days_from(local.date() - timedelta(days=1)):
        base = resolver.steady_base(day)
        if base is not None and not heap:
            # Fast path: one offset all day, so instants are base + t, in order, and
            # all before the next day's; yield lazily from the first one after `after`.
            if base + times[-1] <= after_s:
                continue
            for i in range(bisect_right(times, after_s - base), len(times)):
                ts = base + times[i]
                if ts != last:
                    last = ts
                    yield ts
            continue
        instants = resolver.day(day, times) if base is None else [base + t for t in times]
        bound = resolver.lower_bound(day + timedelta(days=1))
        for ts in instants:
            heapq.heappush(heap, ts)
        while heap and heap[0] < bound:
            ts = heapq.heappop(heap)
            if ts > after_s and ts != last:
                last = ts
                yield ts
    while heap:
        ts = heapq.heappop(heap)
        if ts > after_s and ts != last:
            last = ts
            yield ts


def iter_fires(schedule: Scheduled, after: datetime) -> Iterator[datetime]:
    """Aware fire times (in the schedule's zone) strictly after `after`."""
    zone = get_zone(schedule.zone)
    for ts in iter_fire_seconds(schedule, after):
        yield datetime.fromtimestamp(ts, zone)


def next_fires(schedule: Scheduled, after: datetime, n: int) -> list[datetime]:
    """The next `n` fire times strictly after `after` (naive `after` means UTC)."""
    out: list[datetime] = []
    if n <= 0:
        return out
    zone = get_zone(schedule.zone)
    for ts in iter_fire_seconds(schedule, after):
        out.append(datetime.fromtimestamp(ts, zone))
        if len(out) >= n:
            break
    return out


def fires_between(schedule: Scheduled, start: datetime, end: datetime) -> list[datetime]:
    """Fire times t with start < t <= end, aware, in the schedule's zone."""
    zone = get_zone(schedule.zone)
    end_s = _aware(end).timestamp()
    out = []
    for ts in iter_fire_seconds(schedule, start):
        if ts > end_s:
            break
        out.append(datetime.fromtimestamp(ts, zone))
    return out


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
