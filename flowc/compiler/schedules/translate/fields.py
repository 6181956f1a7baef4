"""Write a set of values as one cron field, shortest readable form first.

`*` for the full range, then one arithmetic progression (`*/S` or `A-B/S` in
unix cron, `A/S` in AWS, which only documents steps that run to the end of the
field), else a comma list of values and `A-B` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

STEP_RANGE = "range"  # unix: */S and A-B/S
STEP_START = "start"  # aws: A/S, only when the progression reaches the field's end
NO_STEP = None


def cron_field(
    values: Iterable[int],
    lo: int,
    hi: int,
    *,
    star: bool = True,
    step: str | None = STEP_RANGE,
    name: Callable[[int], str] = str,
) -> str:
    vals = sorted(set(values))
    if not vals:
        raise ValueError("empty cron field")
    if star and vals == list(range(lo, hi + 1)):
        return "*"
    if step and len(vals) >= 3:
        inc = vals[1] - vals[0]
        if inc > 1 and all(b - a == inc for a, b in zip(vals, vals[1:], strict=False)):
            reaches_end = vals[-1] + inc > hi
            if step == STEP_RANGE:
                if star and vals[0] == lo and reaches_end:
                    return f"*/{inc}"
                return f"{vals[0]}-{vals[-1]}/{inc}"
            if step == STEP_START and reaches_end:
                return f"{vals[0]}/{inc}"
    parts: list[str] = []
    run = [vals[0]]
    for v in vals[1:] + [None]:  # type: ignore[list-item]
        if v is not None and v == run[-1] + 1:
            run.append(v)
            continue
        if len(run) >= 3:
            parts.append(f"{name(run[0])}-{name(run[-1])}")
        else:
            parts.extend(name(x) for x in run)
        if v is not None:
            run = [v]
    return ",".join(parts)
