"""The emulator's clocks: the real one, and a virtual one that is a discrete-event clock.

Every scheduling decision reads `now()` (virtual time, tz-aware UTC) and waits with
`wait_until`/`wait_for`. Events carry both readings: `at` (virtual) and `wall` (real).

The virtual clock advances `speed` times faster than real time (`--speed max`: as fast
as it can), but it never passes anything that has not happened yet:
- a *gate* (`set_gate`): the scheduler's next fire; the clock reaches it and waits
  there until the scheduler has handed the fire over and moved its gate on;
- the window's *end* (`set_end`, `--for`): the clock stops there;
- every open *timeline* (`timeline()`): one per run. A run's own time starts at its
  fire instant and runs at real speed (its attempts' durations and timeouts are real
  seconds, as in the cloud), or is pinned at the end of a retry back-off. The clock
  never passes a run's own time, so while runs execute it moves at most at real speed,
  and when nothing runs it jumps to the next gate: the result of a run never depends
  on `--speed`, only the wall time does.
Virtual time is kept in integer microseconds from the origin, so a gate at a fire
instant is reached exactly. The clock counts from a monotonic origin, so a wall-clock
jump (NTP) does not move it. The real clock has the same interface; its timelines
read the wall clock.
"""

from __future__ import annotations

import math
import re
import threading
import time
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
MAX_SPEED = math.inf  # `--speed max`
_POLL_S = 0.1  # how often a waiter looks at its `stop` event
_US = timedelta(microseconds=1)


def parse_duration(text: str) -> float:
    """Seconds in `30s`, `5m`, `2h`, `1d`, `250ms` or a bare number of seconds.

    Raises ValueError on anything else (the CLI turns it into diagnostic E506).
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_speed(text: str) -> float:
    """`max` (as fast as the runs allow) or a finite positive number; else ValueError."""
    if text.strip().lower() == "max":
        return MAX_SPEED
    speed = float(text)
    if not math.isfinite(speed) or speed <= 0:
        raise ValueError(f"not a positive finite speed: {text!r}")
    return speed


def speed_label(speed: float) -> str:
    return "max" if speed == MAX_SPEED else f"{speed:g}"


def iso(moment: datetime) -> str:
    """ISO 8601 with offset and millisecond precision, as events and history show it."""
    return moment.isoformat(timespec="milliseconds")


class Clock:
    """Base clock. `speed` is how many virtual seconds pass per real second."""

    speed: float = 1.0
    origin: datetime | None = None  # where virtual time began (None: the real clock)

    def __init__(self) -> None:
        # waiters (the scheduler, retry back-offs) sleep on it; holds notify it
        self.condition = threading.Condition(threading.RLock())

    def now(self) -> datetime:
        raise NotImplementedError

    def epoch(self) -> datetime:
        """Where planning starts: the virtual origin, or now for the real clock."""
        return self.origin or self.now()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, virtual_seconds: float) -> float:
        return max(0.0, virtual_seconds / self.speed)

    def real_seconds_until(self, moment: datetime) -> float | None:
        """Real seconds until `now()` reaches `moment` (None: when something else moves)."""
        return self.real_seconds((moment - self.now()).total_seconds())

    def wait_until(self, moment: datetime, stop: threading.Event) -> bool:
        """Wait until virtual `moment` (or until `stop` is set). True if stopped."""
        while True:
            remaining = self.real_seconds_until(moment)
            if remaining == 0:
                return stop.is_set()
            if stop.wait(_POLL_S if remaining is None else remaining):
                return True

    def wait_for(self, virtual_seconds: float, stop: threading.Event) -> bool:
        """Wait a virtual interval (or until `stop` is set). True if stopped."""
        return self.wait_until(self.now() + timedelta(seconds=virtual_seconds), stop)

    # discrete-event hooks (the real clock has nothing to hold)

    def timeline(self, start: datetime | None = None) -> Timeline:
        return Timeline(self)

    def set_gate(self, owner: object, moment: datetime | None) -> None:
        pass

    def set_end(self, moment: datetime | None) -> None:
        pass


class RealClock(Clock):
    """Wall-clock time: what `flowc run` and `flowc dev` without `--speed` use."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class Timeline:
    """One run's own time. On the real clock it is the wall clock."""

    def __init__(self, clock: Clock):
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    def sleep_until(self, moment: datetime, stop: threading.Event) -> bool:
        """Wait for the end of a back-off (or `stop`); True if stopped."""
        return self.clock.wait_until(moment, stop)

    def close(self) -> None:
        pass


class VirtualTimeline(Timeline):
    """A run's own time on the virtual clock; holds the clock until closed."""

    def __init__(self, clock: VirtualClock, start_us: int):
        super().__init__(clock)
        self._clock = clock
        self._anchor = start_us  # virtual microseconds at `_mono`
        self._mono = time.monotonic()
        self._moving = True  # False while pinned at the end of a back-off

    def reading(self, mono: float) -> int:
        if not self._moving:
            return self._anchor
        return self._anchor + int((mono - self._mono) * 1e6)

    def now(self) -> datetime:
        return self._clock.at(self.reading(time.monotonic()))

    def sleep_until(self, moment: datetime, stop: threading.Event) -> bool:
        clock = self._clock
        with clock.condition:  # pin the run at the end of its back-off
            self._anchor, self._moving = max(clock.micros(moment), self.reading(
                time.monotonic())), False  # fmt: skip
            clock.condition.notify_all()
        stopped = clock.wait_until(moment, stop)
        with clock.condition:  # the next attempt's time runs from there at real speed
            self._mono, self._moving = time.monotonic(), True
            clock.condition.notify_all()
        return stopped

    def close(self) -> None:
        with self._clock.condition:
            self._clock.timelines.discard(self)
            self._clock.condition.notify_all()


class VirtualClock(Clock):
    """Discrete-event virtual time from `start` (default: now), `speed` times faster."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None):
        super().__init__()
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        origin = start or datetime.now(UTC)
        if origin.tzinfo is None:
            origin = origin.replace(tzinfo=UTC)
        self.origin = origin.astimezone(UTC)
        self._v = 0  # virtual microseconds since the origin at the last reading
        self._mono = time.monotonic()  # when that reading was taken
        self._gates: dict[int, int] = {}  # id(owner) -> gate
        self._end: int | None = None
        self.timelines: set[VirtualTimeline] = set()

    def micros(self, moment: datetime) -> int:
        return (moment - self.origin) // _US

    def at(self, micros: int) -> datetime:
        return self.origin + timedelta(microseconds=micros)

    def _limit(self, mono: float) -> float:
        """The furthest the clock may go now (inf: nothing holds it)."""
        limit: float = math.inf if self._end is None else self._end
        for gate in self._gates.values():
            limit = min(limit, gate)
        for line in self.timelines:
            limit = min(limit, line.reading(mono))
        return limit

    def _advance(self) -> int:
        mono = time.monotonic()
        if self.speed == MAX_SPEED:
            free: float = math.inf
        else:
            free = self._v + (mono - self._mono) * self.speed * 1e6
        target = min(free, self._limit(mono))
        if math.isfinite(target) and target > self._v:
            self._v = int(target)
        self._mono = mono  # time spent held is not made up later
        return self._v

    def now(self) -> datetime:
        with self.condition:
            return self.at(self._advance())

    def real_seconds(self, virtual_seconds: float) -> float:
        return max(0.0, virtual_seconds / self.speed)  # 0 at max speed

    def real_seconds_until(self, moment: datetime) -> float | None:
        with self.condition:
            target = self.micros(moment)
            now = self._advance()
            if now >= target:
                return 0.0
            if self._end is not None and self._end < target:
                return None  # beyond the end: only a change of plan moves it
            if any(gate < target for gate in self._gates.values()):
                return None  # the gate's owner moves it and notifies
            need = 0.0 if self.speed == MAX_SPEED else (target - now) / 1e6 / self.speed
            mono = time.monotonic()
            for line in self.timelines:
                reading = line.reading(mono)
                if reading < target:
                    if not line._moving:
                        return None
                    need = max(need, (target - reading) / 1e6)
            return need or None

    def wait_until(self, moment: datetime, stop: threading.Event) -> bool:
        with self.condition:
            while True:
                if stop.is_set():
                    return True
                remaining = self.real_seconds_until(moment)
                if remaining == 0:
                    return False
                self.condition.wait(min(_POLL_S if remaining is None else remaining, _POLL_S))

    def timeline(self, start: datetime | None = None) -> Timeline:
        with self.condition:
            begin = self._advance() if start is None else max(self.micros(start), 0)
            line = VirtualTimeline(self, begin)
            self.timelines.add(line)
            return line

    def set_gate(self, owner: object, moment: datetime | None) -> None:
        with self.condition:
            if moment is None:
                self._gates.pop(id(owner), None)
            else:
                self._gates[id(owner)] = self.micros(moment)
            self.condition.notify_all()

    def set_end(self, moment: datetime | None) -> None:
        with self.condition:
            self._end = None if moment is None else self.micros(moment)
            self.condition.notify_all()


def make_clock(speed: float = 1.0, start: datetime | None = None) -> Clock:
    """The real clock when speed is 1 and no start is given, else a virtual one."""
    if speed == 1.0 and start is None:
        return RealClock()
    return VirtualClock(speed, start)
