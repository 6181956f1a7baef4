"""`flowc schedule EXPR [--tz] [--from] [--next] [--target]` as SPEC §2 says.

Also checks the independent AWS evaluator the property tests rely on against
examples worked out by hand from the EventBridge cron reference.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from tests.schedule_oracles.aws_cron import AwsCronError, aws_fires


def run(*args: str):
    return CliRunner().invoke(cli, ["schedule", *args])


def test_prints_next_fires_iso_with_offset_one_a_line():
    r = run(
        '"Mon..Fri 09:00"', "--tz", "Europe/Berlin", "--from", "2026-03-27T10:00", "--next", "3"
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "2026-03-30T09:00:00+02:00",
        "2026-03-31T09:00:00+02:00",
        "2026-04-01T09:00:00+02:00",
    ]


def test_every_form_and_a_list():
    r = run('cron("0 9 * * 1-5")', "--from", "2026-03-06T12:00:00+00:00", "--next", "2")
    assert r.stdout.splitlines() == ["2026-03-09T09:00:00+00:00", "2026-03-10T09:00:00+00:00"]
    r = run("every 90m", "--from", "2026-01-01T00:00:00Z", "--next", "2")
    assert r.stdout.splitlines() == ["2026-01-01T01:30:00+00:00", "2026-01-01T03:00:00+00:00"]
    r = run('at("2026-12-24T18:00")', "--tz", "America/New_York", "--from", "2026-01-01T00:00")
    assert r.stdout.splitlines() == ["2026-12-24T18:00:00-05:00"]
    r = run('["Mon 09:00", "Fri 17:00"]', "--from", "2026-03-02T10:00", "--next", "3")
    assert r.stdout.splitlines() == [
        "2026-03-06T17:00:00+00:00",
        "2026-03-09T09:00:00+00:00",
        "2026-03-13T17:00:00+00:00",
    ]


def test_target_adds_expr_lines_after_the_fires():
    r = run("every 90m", "--from", "2026-01-01T00:00", "--next", "1", "--target", "gcp")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == [
        "2026-01-01T01:30:00+00:00",
        "expr: 0 */3 * * *",
        "expr: 30 1-22/3 * * *",
    ]
    r = run('"Mon..Fri 09:00"', "--next", "0", "--target", "aws")
    assert r.stdout.splitlines() == ["expr: cron(0 9 ? * MON-FRI *)"]


def test_repeated_hour_fires_are_both_printed_for_cron():
    r = run(
        'cron("30 2 * * *")', "--tz", "Europe/Berlin", "--from", "2026-10-25T00:00", "--next", "2"
    )
    assert r.stdout.splitlines() == ["2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00"]


def test_default_from_is_now():
    r = run("every 1m", "--next", "1")
    assert r.exit_code == 0
    fire = datetime.fromisoformat(r.stdout.strip())
    assert 0 < (fire - datetime.now(UTC)).total_seconds() <= 61


def test_bad_schedule_prints_a_spec_diagnostic_and_exits_1():
    r = run('"Mon..Fry 09:00"')
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        '<expr>:1:7: error[E300]: invalid calendar expression "Mon..Fry 09:00": '
        "expected a weekday name",
        '1 | "Mon..Fry 09:00"',
        "  |       ^^^",
        "help: weekdays are Mon Tue Wed Thu Fri Sat Sun (or full names): `Mon..Fri`, `Sat,Sun`",
    ]


def test_untranslatable_fails_like_compile_would():
    r = run('at("2026-12-24T18:00")', "--target", "k8s")
    assert r.exit_code == 1 and r.stdout == ""
    assert "error[E320]" in r.stderr and "(target k8s)" in r.stderr and "help: " in r.stderr


def test_dst_warnings_go_to_stderr_and_exit_0():
    r = run(
        'cron("30 2 * * *")',
        "--tz",
        "Europe/Berlin",
        "--from",
        "2026-01-01T00:00",
        "--next",
        "1",
        "--target",
        "aws",
    )
    assert r.exit_code == 0
    assert r.stdout.splitlines() == ["2026-01-01T02:30:00+01:00", "expr: cron(30 2 * * ? *)"]
    assert "warning[W300]" in r.stderr and "warning[W301]" in r.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (['"daily"', "--from", "yesterday"], "E312"),
        (['"daily"', "--target", "azure"], "E312"),
        (['"daily"', "--next", "-1"], "E312"),
        (["dialy"], "E124"),  # a bare name that is not a calendar shorthand
        (['"daily"', "--tz", "Mars/Base"], "E308"),
    ],
)
def test_bad_options_are_diagnostics(args, code):
    r = run(*args)
    assert r.exit_code == 1
    assert f"error[{code}]" in r.stderr and "help: " in r.stderr


# --- the AWS oracle itself -----------------------------------------------------------

WINDOW = (datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, tzinfo=UTC))


def days(expr: str) -> list[str]:
    return sorted({f.date().isoformat() for f in aws_fires([expr], "UTC", *WINDOW)})


def test_aws_oracle_reads_the_documented_forms():
    assert days("cron(0 9 ? * 2#1 *)")[:3] == ["2026-01-05", "2026-02-02", "2026-03-02"]
    assert days("cron(0 9 ? * 6L *)")[:3] == ["2026-01-30", "2026-02-27", "2026-03-27"]
    assert days("cron(0 0 L * ? *)")[:3] == ["2026-01-31", "2026-02-28", "2026-03-31"]
    assert days("cron(0 0 15W * ? *)")[:3] == ["2026-01-15", "2026-02-16", "2026-03-16"]
    assert days("cron(0 0 ? * SUN,SAT 2026)")[:3] == ["2026-01-03", "2026-01-04", "2026-01-10"]
    assert days("cron(0 0 1 JAN-MAR ? *)") == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert days("cron(0 0 1 1 ? 2027)") == []
    times = aws_fires(["cron(5/20 10 1 1 ? *)"], "UTC", *WINDOW)
    assert sorted(t.minute for t in times) == [5, 25, 45]
    assert aws_fires(["at(2026-03-01T10:00:00)"], "Europe/Berlin", *WINDOW) == {
        datetime(2026, 3, 1, 9, tzinfo=UTC)
    }


def test_aws_oracle_applies_the_documented_dst_rules():
    window = (datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC))
    got = aws_fires(["cron(30 2 * * ? *)"], "Europe/Berlin", *window)
    days_fired = {t.astimezone(UTC).date().isoformat() for t in got}
    assert "2026-03-29" not in days_fired  # 02:30 does not exist: skipped
    assert sum(1 for t in got if t.date().isoformat() == "2026-10-25") == 1  # once


@pytest.mark.parametrize(
    "expr", ["cron(0 9 * * * *)", "cron(0 9 ? * ? *)", "cron(0 9 * *)", "rate(5 minutes)"]
)
def test_aws_oracle_rejects_what_aws_rejects(expr):
    with pytest.raises(AwsCronError):
        aws_fires([expr], "UTC", *WINDOW)
