"""Render a report Page to one self-contained HTML document with the package's templates.

The templates (templates/*.j2, CSS in report.css) are package data; everything is
inlined, nothing is fetched: no script, font or stylesheet from the network.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from flowc.cost.report import money, seconds_text
from flowc.report.calendar import DIFFERS, EXTRA, MISSING, UNCERTAIN
from flowc.report.page import Page

SHOWN_FIRES = 4  # fire times shown in a day cell; more fold into a list by hour


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("flowc.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["seconds"] = seconds_text
    env.globals.update(SHOWN_FIRES=SHOWN_FIRES, DIFFERS=DIFFERS, UNCERTAIN=UNCERTAIN,
                       EXTRA=EXTRA, MISSING=MISSING)
    return env


def render_html(page: Page) -> str:
    return environment().get_template("report.html.j2").render(page=page)
