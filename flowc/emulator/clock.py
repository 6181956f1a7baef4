"""The emulator's clocks: the real one, and a virtual one that runs X times faster.

Every scheduling decision reads `now()` (virtual time, tz-aware UTC) and waits with
`wait_until`/`wait_for`, which turn a virtual interval into a real one. Events carry
both readings: `at` (virtual) and `wall` (real). The virtual clock counts from a
monotonic origin, so a wall-clock jump (NTP) does not move it.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str) -> float:
    """Seconds in `30s`, `5m`, `2h`, `1d`, `250ms` or a bare number of seconds.

    Raises ValueError on anything else (the CLI turns it into diagnostic E506).
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def iso(moment: datetime) -> str:
    """ISO 8601 with offset and millisecond precision, as events and history show it."""
    return moment.isoformat(timespec="milliseconds")


class Clock:
    """Base clock. `speed` is how many virtual seconds pass per real second."""

    speed: float = 1.0
    origin: datetime | None = None  # where virtual time began (None: the real clock)

    def now(self) -> datetime:
        raise NotImplementedError

    def epoch(self) -> datetime:
        """Where planning starts: the virtual origin, or now for the real clock."""
        return self.origin or self.now()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, virtual_seconds: float) -> float:
        return max(0.0, virtual_seconds / self.speed)

    def real_seconds_until(self, moment: datetime) -> float:
        return self.real_seconds((moment - self.now()).total_seconds())

    def wait_until(self, moment: datetime, stop: threading.Event) -> bool:
        """Wait until virtual `moment` (or until `stop` is set). True if stopped."""
        while True:
            remaining = self.real_seconds_until(moment)
            if remaining <= 0:
                return stop.is_set()
            if stop.wait(remaining):
                return True

    def wait_for(self, virtual_seconds: float, stop: threading.Event) -> bool:
        """Wait a virtual interval (or until `stop` is set). True if stopped."""
        return self.wait_until(self.now() + timedelta(seconds=virtual_seconds), stop)


class RealClock(Clock):
    """Wall-clock time: what `flowc run` and `flowc dev` without `--speed` use."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class VirtualClock(Clock):
    """Virtual time starting at `start` (default: now) and running `speed` times faster."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = float(speed)
        origin = start or datetime.now(UTC)
        if origin.tzinfo is None:
            origin = origin.replace(tzinfo=UTC)
        self.origin = origin.astimezone(UTC)
        self._mono0 = time.monotonic()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._mono0) * self.speed
        return self.origin + timedelta(seconds=elapsed)


def make_clock(speed: float = 1.0, start: datetime | None = None) -> Clock:
    """The real clock when speed is 1 and no start is given, else a virtual one."""
    if speed == 1.0 and start is None:
        return RealClock()
    return VirtualClock(speed, start)
