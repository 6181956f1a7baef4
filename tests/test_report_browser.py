"""`flowc report` as a person sees it, in a real browser: Debian's chromium, driven by
playwright (never `playwright install`: `make test` installs the `chromium` package).

One browser for the session, with JavaScript off (the page must read without it), a
fresh profile and no network. Each page: every task's section is visible, the DST day
is highlighted where a target differs, nothing is logged as an error, and no request
leaves the file. Screenshots are written under the test's temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from tests.report_support import DST_TASKS, write_dst_spec, write_history

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DIFFERS_BACKGROUND = "rgb(253, 226, 225)"  # --differs in report.css
UNCERTAIN_BACKGROUND = "rgb(255, 243, 205)"  # --uncertain


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium "
                    "(apt-get install chromium); the report's browser tests need it")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=FLAGS,
            java_script_enabled=False, viewport={"width": 1500, "height": 1000},
            offline=True)
        yield context
        context.close()


class Visit:
    """A page opened from a file, with what it logged and asked the network for."""

    def __init__(self, context, path: Path):
        self.url = path.resolve().as_uri()
        self.page = context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(self.url, wait_until="load")

    def day(self, section: str, calendar: str, date: str):
        return self.page.locator(
            f"#{section} figure[data-calendar='{calendar}'] td[data-date='{date}']")

    def background(self, locator) -> str:
        return locator.evaluate("e => getComputedStyle(e).backgroundColor")

    def assert_clean(self):
        assert self.errors == []
        assert self.requests == [self.url]  # the page itself, nothing else


def report(tmp_path: Path, spec: Path, *args: str) -> Path:
    out = tmp_path / f"{spec.stem}.html"
    result = CliRunner().invoke(cli, ["report", str(spec), "--out", str(out), "--state",
                                      str(tmp_path), *args])
    assert result.exit_code == 0, result.output
    return out


def test_the_dst_report_highlights_the_night_the_targets_differ(browser, tmp_path):
    spec = write_dst_spec(tmp_path)
    write_history(tmp_path)  # the report's --state
    visit = Visit(browser, report(tmp_path, spec, "--month", "2027-03"))
    page = visit.page
    for task in DST_TASKS:
        heading = page.locator(f"#task-{task} h2")
        assert heading.is_visible() and task in heading.inner_text()
    # cron runs the skipped 02:30 at 03:00; EventBridge and the CronJob controller skip it.
    for target in ("aws", "k8s"):
        cell = visit.day("task-cron_nightly", target, "2027-03-28")
        assert cell.is_visible() and cell.get_attribute("data-status") == "differs"
        assert cell.locator(".badge").inner_text() == "W300"
        assert visit.background(cell) == DIFFERS_BACKGROUND
        assert "03:00 CEST" in cell.locator("li.missing").inner_text()
    # systemd skips it too: AWS agrees, Cloud Scheduler does not say what it does.
    same = visit.day("task-nightly", "aws", "2027-03-28")
    assert same.get_attribute("data-status") == "same"
    assert visit.background(same) != DIFFERS_BACKGROUND
    unsure = visit.day("task-nightly", "gcp", "2027-03-28")
    assert visit.background(unsure) == UNCERTAIN_BACKGROUND
    assert unsure.locator(".badge").inner_text() == "W300"  # as compile warns for gcp
    # An ordinary day lists its runs; a folded list opens without any script.
    assert visit.day("task-nightly", "source (systemd calendar)", "2027-03-27").inner_text() \
        .split() == ["27", "02:30"]
    busy = visit.day("task-half_hourly", "k8s", "2027-03-02")
    hours = busy.locator("ul.hours")
    assert not hours.is_visible()
    busy.locator("summary").click()
    assert hours.is_visible() and "23 00 30" in hours.inner_text()
    # The run history as a timeline, a mark per run in its outcome's colour.
    marks = page.locator("#task-nightly .timeline .run")
    assert marks.count() == 3 and marks.nth(1).is_visible()
    assert [visit.background(marks.nth(i)) for i in range(3)] == [
        "rgb(30, 123, 52)", "rgb(179, 38, 30)", "rgb(123, 63, 181)"]  # ok, fail, dead letter
    legend = page.locator("#task-nightly .history .legend").inner_text()
    assert "1 dead lettered" in legend and "1 failed" in legend and "1 succeeded" in legend
    assert "No runs recorded" in page.locator("#task-cron_nightly .history").inner_text()
    diffs = page.locator("#task-cron_nightly ul.diffs").inner_text()
    assert "aws, Sun 2027-03-28 W300" in diffs
    # nightly on gcp, cron_nightly on aws, gcp and k8s, half_hourly on gcp
    assert page.locator("#summary li[data-code='W300']").count() == 5
    page.locator("#task-cron_nightly").screenshot(path=str(tmp_path / "dst-report.png"))
    assert (tmp_path / "dst-report.png").stat().st_size > 10_000
    visit.assert_clean()


def test_the_examples_report_shows_every_task_and_the_repeated_hour(browser, tmp_path):
    spec = ROOT / "examples" / "reports.flow"
    visit = Visit(browser, report(tmp_path, spec, "--env", "prod", "--month", "2027-10"))
    page = visit.page
    for task in ("daily_report", "cleanup", "digest"):
        assert page.locator(f"#task-{task}").is_visible()
        assert page.locator(f"#task-{task} .words").first.is_visible()
    warning = page.locator("#summary li[data-code='W301']")
    assert warning.is_visible() and "reports.flow:28:14" in warning.inner_text()
    cell = visit.day("task-cleanup", "aws", "2027-10-31")
    assert cell.locator(".badge").inner_text() == "W301"
    assert visit.background(cell) == DIFFERS_BACKGROUND
    assert page.locator("#task-daily_report .placement[data-target='gcp'] .bar").is_visible()
    page.locator("#task-cleanup").screenshot(path=str(tmp_path / "cleanup.png"))
    visit.assert_clean()
