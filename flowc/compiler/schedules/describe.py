"""A schedule in words, read off the same normalized model the evaluator runs.

    Schedule("calendar", "Mon..Fri 09:00", "Europe/Berlin").describe()
    -> "at 09:00 on weekdays, Europe/Berlin"     (describe(schedule.spec, schedule.zone))

Rules with the same day filter are described by the union of their times of day (so
`every 90m`, two rules, reads "every 90 minutes"); day filters that share their times
are joined with "or" (Vixie cron's day-of-month OR day-of-week is two rules).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from flowc.compiler.schedules.spec import ALL_MONTHS, Rule, Spec

DAY = 86400
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")
ORDINAL_WEEKS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth"}
MAX_LISTED = 4  # times of day listed one by one before they are summarised


def describe(spec: Spec, zone: str) -> str:
    """The schedule in words, ending with the timezone it is read in."""
    return f"{describe_spec(spec)}, {zone}"


def describe_spec(spec: Spec) -> str:
    by_days: dict[tuple, set[int]] = {}
    for rule in spec.rules:
        by_days.setdefault(_day_key(rule), set()).update(rule.times)
    by_times: dict[tuple[int, ...], list[tuple]] = {}
    for key, times in by_days.items():
        by_times.setdefault(tuple(sorted(times)), []).append(key)
    parts = []
    for times, keys in by_times.items():
        when = times_phrase(times)
        if len(keys) == 1 and _is_once(keys[0], times):
            parts.append(f"once, {when} on {_date(keys[0])}")
            continue
        days = " or ".join(days_phrase(*key) for key in keys)
        if days == "every day" and when.startswith("every"):
            parts.append(when)
        else:
            parts.append(f"{when} {days}")
    return "; and ".join(parts)


def _day_key(rule: Rule) -> tuple:
    return (rule.months, rule.days, rule.weekdays, rule.years, rule.from_end)


def _is_once(key: tuple, times: Sequence[int]) -> bool:
    months, days, weekdays, years, from_end = key
    return (len(times) == 1 and years is not None and len(years) == 1 and len(months) == 1
            and days is not None and len(days) == 1 and weekdays is None and not from_end)


def _date(key: tuple) -> str:
    months, days, _weekdays, years, _from_end = key
    return f"{min(years):04d}-{min(months):02d}-{min(days):02d}"


# -- times of day -------------------------------------------------------------------------

def clock(seconds: int, with_seconds: bool = False) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}" if with_seconds else f"{h:02d}:{m:02d}"


def interval(seconds: int) -> str:
    """`every ...` wording: 60 -> "minute", 900 -> "15 minutes", 5400 -> "90 minutes"."""
    for size, unit in ((3600, "hour"), (60, "minute"), (1, "second")):
        if seconds % size == 0:
            n = seconds // size
            return unit if n == 1 else f"{n} {unit}s"
    raise AssertionError(seconds)  # pragma: no cover - seconds are whole


def times_phrase(times: Sequence[int]) -> str:
    secs = any(t % 60 for t in times)
    fmt = [clock(t, secs) for t in times]
    if len(times) <= MAX_LISTED:
        return "at " + join(fmt)
    step = _step(times)
    if step is not None:
        if times[0] < step and times[-1] + step == DAY + times[0]:  # evenly, all day
            start = "" if times[0] == 0 else f" from {fmt[0]}"
            return f"every {interval(step)}{start}"
        return f"every {interval(step)} from {fmt[0]} to {fmt[-1]}"
    if not secs:
        product = _hour_minute_product(times)
        if product is not None:
            return product
    return f"at {', '.join(fmt[:MAX_LISTED])}, ... ({len(times)} times a day)"


def _step(values: Sequence[int]) -> int | None:
    diffs = {b - a for a, b in zip(values, values[1:], strict=False)}
    return diffs.pop() if len(diffs) == 1 else None


def _hour_minute_product(times: Sequence[int]) -> str | None:
    hours = sorted({t // 3600 for t in times})
    minutes = sorted({t % 3600 // 60 for t in times})
    if len(hours) * len(minutes) != len(times):
        return None
    step = _step(minutes) if len(minutes) > 2 else None
    if minutes == list(range(60)):
        what = "every minute"
    elif step is not None and minutes[-1] + step == 60 + minutes[0]:  # evenly, all hour
        what = f"every {interval(step * 60)}" + (f" from :{minutes[0]:02d}" if minutes[0] else "")
    elif step is not None:
        what = f"every {interval(step * 60)} from :{minutes[0]:02d} to :{minutes[-1]:02d}"
    else:
        what = "at " + join(f":{m:02d}" for m in minutes)
    hour_step = _step(hours) if len(hours) > 2 else None
    if len(hours) == 24:
        return what + ("" if what.startswith("every") and not step else " of every hour")
    if hour_step is not None and hour_step > 1:
        return f"{what} of every {ordinal(hour_step)} hour from {hours[0]:02d} to {hours[-1]:02d}"
    return f"{what} during hours {runs(hours, lambda h: f'{h:02d}')}"


# -- days ---------------------------------------------------------------------------------

def days_phrase(months, days, weekdays, years, from_end) -> str:
    if days is None and weekdays is None:
        out = "every day"
    elif days is None:
        out = weekdays_phrase(weekdays)
    elif weekdays is None:
        out = month_days_phrase(days, from_end, months)
        if not from_end:
            return out + _years(years)  # "on the 1st of January and July"
    else:
        out = _nth_weekday(days, weekdays, from_end)
    return out + _months(months) + _years(years)


def weekdays_phrase(weekdays: Iterable[int]) -> str:
    days = sorted(weekdays)
    if days == [0, 1, 2, 3, 4]:
        return "on weekdays"
    if days == [5, 6]:
        return "on weekends"
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"from {WEEKDAY_NAMES[days[0]]} to {WEEKDAY_NAMES[days[-1]]}"
    return "on " + join(WEEKDAY_NAMES[d] + "s" for d in days)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def month_days_phrase(days: Iterable[int], from_end: bool, months: frozenset[int]) -> str:
    values = sorted(days)
    if from_end:
        named = join("last" if d == 1 else f"{ordinal(d)}-last" for d in values)
        return f"on the {named} day{'s' if len(values) > 1 else ''} of the month"
    return f"on the {runs(values, ordinal)} of {_month_names(months) or 'the month'}"


def _nth_weekday(days: frozenset[int], weekdays: frozenset[int], from_end: bool) -> str:
    names = " or ".join(WEEKDAY_NAMES[d] for d in sorted(weekdays))
    values = sorted(days)
    if from_end and values == list(range(1, 8)):
        return f"on the last {names} of the month"
    for week, label in ORDINAL_WEEKS.items():
        if not from_end and values == list(range(7 * week - 6, min(7 * week, 31) + 1)):
            return f"on the {label} {names} of the month"
    where = month_days_phrase(days, from_end, ALL_MONTHS)
    return f"on {names}s that fall {where}"


def _month_names(months: frozenset[int]) -> str:
    """"" for every month, else "March" or "January, April, July and October"."""
    if months >= ALL_MONTHS:
        return ""
    return runs(sorted(months), lambda m: MONTH_NAMES[m - 1], word="to")


def _months(months: frozenset[int]) -> str:
    names = _month_names(months)
    return f" in {names}" if names else ""


def _years(years: frozenset[int] | None) -> str:
    if years is None:
        return ""
    return " in " + runs(sorted(years), str, word="to")


# -- lists --------------------------------------------------------------------------------

def join(items: Iterable[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def runs(values: Sequence[int], name=str, word: str = "to") -> str:
    """Consecutive values of three or more as "A to B" ("09 to 17"), the rest listed."""
    parts, i = [], 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{name(values[i])} {word} {name(values[j])}")
        else:
            parts.extend(name(v) for v in values[i:j + 1])
        i = j + 1
    return join(parts)
