"""A MonthCalendar as a rich table for the terminal (`flowc schedule --calendar`).

Monday-first columns; each cell shows the day, its fire times (the first few, then how
many more) and, on a target's calendar, what differs from the source: `+09:00` only the
target fires, `-09:00` only the source does. Today reads `today`, a day the clocks
change reads `DST`, and the marks stay readable without colour.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from flowc.report.calendar import (
    DIFFERS,
    EXTRA,
    MISSING,
    UNCERTAIN,
    WEEKDAY_HEADS,
    Day,
    MonthCalendar,
)

SHOWN = 4  # fire times listed in a cell before "+N more"
MARKS = {EXTRA: "+", MISSING: "-"}


def month_table(calendar: MonthCalendar) -> Table:
    table = Table(title=f"{calendar.title}: {calendar.month} ({calendar.zone}), "
                  f"{calendar.runs} runs",
                  title_justify="left", show_lines=True, expand=False)
    for head in WEEKDAY_HEADS:
        table.add_column(head, overflow="fold", min_width=11, vertical="top")
    for week in calendar.weeks:
        table.add_row(*(cell(day) if day else Text("") for day in week))
    return table


def cell(day: Day) -> Text:
    text = Text()
    head = f"{day.day.day:2d}"
    text.append(head, style="bold reverse" if day.today else "bold")
    if day.today:
        text.append(" today", style="bold")
    if day.dst:
        text.append(" DST", style="yellow")
    if day.status == DIFFERS:
        text.append(f"\n≠ {day.code or 'differs'}", style="bold red")
    elif day.status == UNCERTAIN:
        text.append("\n? undoc.", style="yellow")
    fires = day.changes if day.status == DIFFERS else day.fires
    for fire in fires[:SHOWN]:
        mark = MARKS.get(fire.status, "")
        style = {EXTRA: "red", MISSING: "strike red"}.get(fire.status, "")
        text.append(f"\n{mark}{fire.label}", style=style)
    if len(fires) > SHOWN:
        text.append(f"\n+{len(fires) - SHOWN} more", style="dim")
    if day.status == DIFFERS and day.runs:
        text.append(f"\n({day.runs} runs)", style="dim")
    return text
