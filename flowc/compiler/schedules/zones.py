"""IANA timezones for schedules: validation, loading, and UTC-offset transitions.

A `Transition` is an instant where a zone's UTC offset changes: a *gap* when the
offset grows (local times in [instant+before, instant+after) never happen) and an
*overlap* when it shrinks (local times in [instant+after, instant+before) happen
twice). They are found by sampling the offset and bisecting to the second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flowc.compiler.schedules.errors import ScheduleError

EPOCH = datetime(1970, 1, 1)
_SAMPLE = 6 * 3600  # no zone changes its offset twice within six hours


@lru_cache(maxsize=512)
def is_zone(name: str) -> bool:
    """Is `name` an IANA zone we can load (e.g. "Europe/Berlin", "UTC")?"""
    if not name or name.startswith("/") or ".." in name.split("/") or " " in name:
        return False
    try:
        ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError, OSError on odd names
        return False
    return True


def get_zone(name: str) -> ZoneInfo:
    """Load a zone, or raise the schedule diagnostic for an unknown name."""
    if not is_zone(name):
        raise ScheduleError(
            "E308",
            f'unknown timezone "{name}"',
            'use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"',
        )
    return ZoneInfo(name)


def offset_at(zone: ZoneInfo, ts: int) -> int:
    """UTC offset in seconds at the instant `ts` (seconds since the epoch)."""
    off = datetime.fromtimestamp(ts, UTC).astimezone(zone).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


@dataclass(frozen=True)
class Transition:
    at: int  # first instant (epoch seconds) with the new offset
    before: int  # offset in seconds before
    after: int  # offset in seconds after

    @property
    def is_gap(self) -> bool:
        return self.after > self.before

    def local_window(self) -> tuple[datetime, datetime]:
        """The naive local times that are skipped (gap) or repeated (overlap)."""
        lo, hi = sorted((self.before, self.after))
        return (
            EPOCH + timedelta(seconds=self.at + lo),
            EPOCH + timedelta(seconds=self.at + hi),
        )


@lru_cache(maxsize=256)
def transitions(zone_name: str, start: int, end: int) -> tuple[Transition, ...]:
    """Every offset change of the zone with start <= instant < end."""
    zone = ZoneInfo(zone_name)
    out = []
    ts, off = start, offset_at(zone, start)
    while ts < end:
        nxt = min(ts + _SAMPLE, end)
        new = offset_at(zone, nxt)
        if new != off:
            lo, hi = ts, nxt  # offset(lo) == off, offset(hi) != off
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset_at(zone, mid) == off:
                    lo = mid
                else:
                    hi = mid
            out.append(Transition(hi, off, offset_at(zone, hi)))
        ts, off = nxt, new
    return tuple(out)


def transitions_around(zone_name: str, day_start: int, day_end: int) -> tuple[Transition, ...]:
    """Transitions in one window, cached by whole UTC days (cheap to call per day)."""
    start = day_start - day_start % 86400
    end = day_end - day_end % 86400 + 86400
    return transitions(zone_name, start, end)
