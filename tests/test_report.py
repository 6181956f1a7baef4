"""`flowc report` and `flowc schedule --calendar`: calendars checked against systemd-analyze,
the targets' DST days, resources and costs from the same code as compile and cost, the
run history as a timeline, and a diagnostic for every bad input (E802, E901, W902, E312).
The page as a person sees it in a browser: tests/test_report_browser.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.compiler.pipeline import load
from flowc.compiler.schedules import parse_schedule
from flowc.cost import cost_report
from flowc.cost.runs import Month
from flowc.report.calendar import DIFFERS, EXTRA, MISSING, SAME, UNCERTAIN, source_calendar
from flowc.report.page import build_page
from flowc.targets import registry
from flowc.targets.base import Stack
from tests.report_support import DST_TASKS, write_dst_spec, write_history
from tests.schedule_oracles.systemd import SYSTEMD_ANALYZE, systemd_fires

ROOT = Path(__file__).resolve().parent.parent
BERLIN = "Europe/Berlin"
runner = CliRunner()


@pytest.fixture(scope="module")
def dst_spec(tmp_path_factory) -> Path:
    return write_dst_spec(tmp_path_factory.mktemp("clocks"))


@pytest.fixture(scope="module")
def march(dst_spec):
    result = load(dst_spec)
    assert result.ok, result.diagnostics
    return build_page(result.app, Month(2027, 3), result.diagnostics, state_dir=dst_spec.parent)


def workload(page, name):
    return next(w for w in page.workloads if w.name == name)


def placement(page, name, target):
    return next(p for p in workload(page, name).placements if p.target == target)


def day(calendar, n):
    return calendar.days[n - 1]


# --- calendars -------------------------------------------------------------------------------


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("text", ["*-*-* 02:30", "Mon..Fri 01:45,02:15", "*-*-* 00/3:30"])
@pytest.mark.parametrize("month", [Month(2027, 3), Month(2027, 10)])
def test_source_calendar_days_are_systemds(text, month):
    schedule = parse_schedule("calendar", text, BERLIN)
    calendar = source_calendar("source", [schedule], month, BERLIN)
    start, end = month.window(BERLIN)
    theirs = [t for t in systemd_fires(text, BERLIN, start, calendar.runs + 5) if t < end]
    ours = [f.at.astimezone(UTC) for d in calendar.days for f in d.fires]
    assert ours == theirs


def test_weeks_start_on_monday_and_pad_other_months():
    calendar = source_calendar("source", [parse_schedule("calendar", "daily", BERLIN)],
                               Month(2027, 3), BERLIN)
    weeks = calendar.weeks
    assert weeks[0][0].day.isoformat() == "2027-03-01"  # a Monday
    assert all(len(w) == 7 for w in weeks) and weeks[-1][2].day.day == 31
    assert weeks[-1][3:] == [None] * 4 and calendar.runs == 31


def test_the_dst_night_per_target(march):
    # systemd skips 02:30 on the 28th, and so do AWS and Kubernetes; GCP does not say.
    assert 28 not in [d.day.day for d in workload(march, "nightly").source.days if d.runs]
    assert day(placement(march, "nightly", "aws").calendar, 28).status == SAME
    assert day(placement(march, "nightly", "k8s").calendar, 28).status == SAME
    assert day(placement(march, "nightly", "gcp").calendar, 28).status == UNCERTAIN
    # cron runs the skipped 02:30 at 03:00; AWS and Kubernetes skip it: W300.
    source = day(workload(march, "cron_nightly").source, 28)
    assert [f.label for f in source.fires] == ["03:00 CEST"]
    for target in ("aws", "k8s"):
        cell = day(placement(march, "cron_nightly", target).calendar, 28)
        assert (cell.status, cell.code, cell.dst, cell.runs) == (DIFFERS, "W300", "gap", 0)
        assert [(f.label, f.status) for f in cell.fires] == [("03:00 CEST", MISSING)]
        assert [d.day.day for d in placement(march, "cron_nightly", target).calendar.marked] == [28]
    # Each calendar says what its side does when the clocks change.
    assert workload(march, "cron_nightly").source.dst == (
        "flowc runs a skipped time after the jump, runs a repeated time twice")
    assert placement(march, "nightly", "k8s").calendar.dst.endswith("runs a repeated time twice")
    assert "wall clock" in placement(march, "nightly", "gcp").calendar.dst


def test_the_repeated_hour_runs_twice_on_kubernetes_only(dst_spec):
    result = load(dst_spec)
    october = build_page(result.app, Month(2027, 10), result.diagnostics,
                         state_dir=dst_spec.parent)
    assert day(workload(october, "nightly").source, 31).runs == 1
    assert day(placement(october, "nightly", "aws").calendar, 31).status == SAME
    k8s = day(placement(october, "nightly", "k8s").calendar, 31)
    assert (k8s.status, k8s.code, k8s.runs) == (DIFFERS, "W301", 2)
    assert [(f.label, f.status) for f in k8s.changes] == [("02:30 CET", EXTRA)]


# --- what else the page holds ------------------------------------------------------------------


def test_today_is_marked_in_each_calendars_zone(dst_spec):
    result = load(dst_spec)
    late = datetime(2027, 3, 14, 23, 30, tzinfo=UTC)  # already the 15th in Berlin
    page = build_page(result.app, Month(2027, 3), result.diagnostics, now=late,
                      state_dir=dst_spec.parent)
    for w in page.workloads:
        for calendar in [w.source] + [p.calendar for p in w.placements]:
            assert [d.day.day for d in calendar.days if d.today] == [15]


def test_every_task_is_a_section_with_its_schedule_in_words(march):
    assert [w.name for w in march.workloads] == list(DST_TASKS)
    month_end = workload(march, "month_end")
    assert [s.words for s in month_end.schedules] == [
        "at 18:00 on the last Friday of the month, Europe/Berlin"]
    assert [p.target for p in month_end.placements] == ["aws"]
    assert [d.day.day for d in month_end.source.days if d.runs] == [26]


def test_resources_are_what_the_target_builders_create(march, dst_spec):
    result = load(dst_spec)
    for target in registry.names():
        stack = Stack(target, result.app, dst_spec.parent / "out" / target)
        registry.get(target).load_builder().build(result.app, stack)
        built = {f"{t}.{i}" for t, bodies in stack.resources.items() for i in bodies}
        shown = {r.address for w in march.workloads for p in w.placements
                 if p.target == target for r in p.resources}
        shared = {r.address for t in march.totals if t.target == target for r in t.shared}
        assert shown | shared == built and not shown & shared, target
    counts = placement(march, "nightly", "k8s").counts
    assert [(t, n) for t, n, _names in counts] == [
        ("kubernetes_cron_job_v1", 1), ("kubernetes_service_account_v1", 1)]
    assert all(name.startswith("clocks-nightly") for _t, _n, names in counts for name in names)


def test_costs_are_flowc_costs_numbers(march, dst_spec):
    result = load(dst_spec)
    costed = cost_report(result.app, month="2027-03", state_dir=dst_spec.parent)
    for tc in costed.report.tasks:
        for target, cost in tc.targets.items():
            assert placement(march, tc.task.name, target).cost.total == pytest.approx(cost.total)
    totals = {t.target: t.total for t in march.totals}
    assert totals == pytest.approx({t: costed.report.totals(t)["total"] for t in totals})
    assert max(p.cost_share for w in march.workloads for p in w.placements) <= 100


def test_runs_from_the_history_make_a_timeline(tmp_path, dst_spec):
    write_history(tmp_path)
    result = load(dst_spec)
    page = build_page(result.app, Month(2027, 3), result.diagnostics, state_dir=tmp_path)
    timeline = workload(page, "nightly").timeline
    assert [(r.status, r.duration_s) for r in timeline.runs] == [
        ("succeeded", 4.0), ("failed", 10.0), ("dead_lettered", 60.0)]
    assert timeline.runs[0].left == 0 and timeline.runs[-1].left + timeline.runs[-1].width > 99
    assert workload(page, "cron_nightly").timeline is None


# --- the command line -----------------------------------------------------------------------


def test_report_of_the_examples_names_every_task_and_warning(tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(cli, ["report", str(ROOT / "examples" / "reports.flow"), "--env",
                                 "prod", "--month", "2027-10", "--out", str(out), "--state",
                                 str(tmp_path)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    for task in ("daily_report", "cleanup", "digest"):
        assert f'id="task-{task}"' in html
    assert "warning[W301]" in html and "reports.flow:28:14" in html
    assert "at 09:00 on weekdays, Europe/Berlin" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_a_spec_with_errors_writes_no_report(tmp_path):
    (tmp_path / "bad.flow").write_text('task t {\n  python = "jobs.main:main"\n}\n')
    out = tmp_path / "r.html"
    result = runner.invoke(cli, ["report", str(tmp_path / "bad.flow"), "--out", str(out)])
    assert result.exit_code == 1 and "E123" in result.output and not out.exists()


def test_bad_month_and_unwritable_out_are_diagnostics(tmp_path, dst_spec):
    bad = runner.invoke(cli, ["report", str(dst_spec), "--month", "2027-13"])
    assert bad.exit_code == 1 and "error[E802]" in bad.output and "help:" in bad.output
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "report.html"
    result = runner.invoke(cli, ["report", str(dst_spec), "--month", "2027-03", "--out",
                                 str(out), "--state", str(tmp_path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "E901" in result.output and "help: pass --out" in result.output
    assert "<command line>:2:7: error[E901]" in result.output  # points at the path given


def test_a_damaged_history_is_a_warning_and_the_page_is_still_written(tmp_path, dst_spec):
    (tmp_path / "history.sqlite").write_text("not a database" * 100)
    out = tmp_path / "r.html"
    result = runner.invoke(cli, ["report", str(dst_spec), "--month", "2027-03", "--out",
                                 str(out), "--state", str(tmp_path)])
    assert result.exit_code == 0 and "warning[W902]" in result.output
    assert out.exists() and "W902" in out.read_text()


def test_schedule_calendar_marks_today_and_counts_fires():
    result = runner.invoke(cli, ["schedule", '"*-*-* 09:00,30"', "--calendar"])
    assert result.exit_code == 0, result.output
    today = datetime.now(UTC).date()
    assert re.search(rf"\b{today.day}\s+today\b", result.output), result.output
    assert f"{today:%Y-%m} (UTC), " in result.output
    assert result.output.count("09:30") >= 7


def test_schedule_calendar_of_a_month_shows_the_target_difference():
    result = runner.invoke(cli, ["schedule", 'cron("30 2 * * *")', "--tz", BERLIN, "--calendar",
                                 "--month", "2027-03", "--target", "k8s"], terminal_width=120)
    assert result.exit_code == 0, result.output
    source, _, k8s = result.output.partition("k8s: 2027-03")
    assert "source: 2027-03 (Europe/Berlin), 31 runs" in source and "03:00 CEST" in source
    assert "30 runs" in k8s and "≠ W300" in k8s and "-03:00 CEST" in k8s
    assert "expr: 30 2 * * *" in result.output and "warning[W300]" in result.output
    bad = runner.invoke(cli, ["schedule", "every 1h", "--calendar", "--month", "March"])
    assert bad.exit_code == 1 and "error[E312]" in bad.output


def test_a_service_gets_a_section_with_what_each_target_creates(tmp_path):
    spec = tmp_path / "shop.flow"
    spec.write_text('task sync {\n  image = "busybox:1.36"\n  schedule = "daily"\n'
                    '  targets = [k8s]\n}\n'
                    'service api {\n  image = "ghcr.io/acme/api:1.4"\n  port = 8000\n'
                    '  health = "/health"\n  replicas = 2\n  targets = [k8s]\n}\n')
    result = load(spec)
    assert result.ok, result.diagnostics
    page = build_page(result.app, Month(2027, 3), result.diagnostics, state_dir=tmp_path)
    api = workload(page, "api")
    assert (api.kind, api.source, api.schedules) == ("service", None, [])
    assert "port 8000" in api.what and "2 replicas" in api.what
    types = {t for t, _n, _names in placement(page, "api", "k8s").counts}
    assert {"kubernetes_deployment_v1", "kubernetes_service_v1"} <= types
    assert "kubernetes_cron_job_v1" not in types  # that is the task's
    from flowc.report.render import render_html

    html = render_html(page)
    assert 'id="service-api"' in html and 'id="task-sync"' in html


def test_a_schedule_in_its_own_zone_is_drawn_in_the_tasks_zone(tmp_path):
    spec = tmp_path / "zones.flow"
    spec.write_text('defaults { timezone = "Europe/Berlin" }\n'
                    'task t {\n  image = "busybox:1.36"\n'
                    '  schedule = ["Mon 09:00", "Tue 09:00 Asia/Tokyo"]\n  targets = [aws]\n}\n')
    result = load(spec)
    assert result.ok, result.diagnostics
    page = build_page(result.app, Month(2027, 3), result.diagnostics, state_dir=tmp_path)
    source, aws = workload(page, "t").source, placement(page, "t", "aws").calendar
    assert [f.label for f in day(source, 2).fires] == ["01:00"]  # Tokyo 09:00 is Berlin 01:00
    assert aws.marked == [] and aws.runs == source.runs == 10
