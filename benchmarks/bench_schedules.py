"""Schedule evaluation and translation speed (the emulator and `flowc cost` evaluate a lot).

Run: make bench (pytest-benchmark). Claims, on one core of a laptop:
- a month of every-minute fires (44,640, across a DST change) in well under 0.5 s
  (60-130 ms measured); a day of every-second fires (86,400) in about 0.3 s;
- parsing, translating for three targets and DST-checking a typical schedule in a few ms.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flowc.compiler.schedules import parse_schedule
from flowc.compiler.schedules.parse import compile_spec
from flowc.targets import registry

MARCH = datetime(2026, 3, 1, tzinfo=UTC)
APRIL = datetime(2026, 4, 1, tzinfo=UTC)


def test_month_of_every_minute_fires(benchmark):
    schedule = parse_schedule("cron", "* * * * *", "Europe/Berlin")
    fires = benchmark(schedule.fires_between, MARCH, APRIL)
    assert len(fires) == 31 * 1440
    assert benchmark.stats.stats.min < 0.5


def test_day_of_every_second_fires(benchmark):
    schedule = parse_schedule("calendar", "*:*:*", "America/New_York")
    fires = benchmark(schedule.next_fires, MARCH, 86400)
    assert len(fires) == 86400


def test_next_five_fires_of_sparse_schedules(benchmark):
    schedules = [
        parse_schedule("calendar", "*-02-29 12:00", "UTC"),
        parse_schedule("calendar", "Mon *-*-01..07 09:00", "Europe/Berlin"),
        parse_schedule("cron", "0 0 13 * 5", "UTC"),
        parse_schedule("at", "2030-12-24T18:00", "UTC"),
    ]

    def run():
        return [s.next_fires(MARCH, 5) for s in schedules]

    out = benchmark(run)
    assert [len(f) for f in out] == [5, 5, 5, 1]


def test_parse_translate_and_check_typical_schedules(benchmark):
    forms = [
        ("calendar", "Mon..Fri 09:00"),
        ("calendar", "*-*-01 06:00"),
        ("cron", "*/15 9-17 * * 1-5"),
        ("every", "90m"),
        ("every", "7m"),
    ]

    def run():
        compile_spec.cache_clear()
        out = []
        for kind, text in forms:
            schedule = parse_schedule(kind, text, "Europe/Berlin")
            for target in ("aws", "gcp", "k8s"):
                out.append(registry.get(target).translate(schedule))
                registry.get(target).schedule_warnings(schedule, start=MARCH)
        return out

    out = benchmark(run)
    assert len(out) == 15
