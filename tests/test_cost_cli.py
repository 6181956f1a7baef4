"""`flowc cost` on the command line: table, JSON and CSV, run history, price overrides,
and a diagnostic (never a traceback) for every bad input: E801-E805, W801."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowc.cli import app
from flowc.compiler.pipeline import load
from flowc.cost import cost_report
from flowc.cost.pricing import PRICING_DIR, load_price_book

SPEC = """\
app shop
secret api_key

task sync {
  python   = "jobs.main:main"
  schedule = cron("*/10 * * * *")
  memory   = 512MB
  timeout  = 2m
  env { KEY = secret.api_key }
}

task nightly {
  image    = "busybox:1.36"
  schedule = "*-*-* 03:00"
  memory   = 2GB
  timeout  = 30m
}

environment far {
  aws { region = "eu-north-9" }
  gcp { project = "p"  region = "mars-central1" }
}

environment frankfurt {
  aws { region = "eu-central-1" }
  gcp { project = "p"  region = "europe-west3" }
}
"""


@pytest.fixture
def flow(tmp_path) -> Path:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").touch()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    pass\n")
    path = tmp_path / "shop.flow"
    path.write_text(SPEC)
    return path


def run(flow: Path, *args: str):
    result = CliRunner().invoke(app, ["cost", str(flow), "--month", "2026-12",
                                      "--state", str(flow.parent / "state"), *args])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def diagnostics(flow: Path, env: str | None = None, **options):
    loaded = load(flow, env)
    assert loaded.ok, loaded.diagnostics
    options.setdefault("month", "2026-12")
    result = cost_report(loaded.app, state_dir=flow.parent / "state", **options)
    return result, {d.code: d for d in result.diagnostics}


def test_json_has_every_task_target_and_totals(flow):
    result = run(flow, "--format", "json", "--duration", "sync=45s", "--no-free-tier")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["month"] == "2026-12" and data["free_tier"] is False
    assert data["prices"]["aws"]["date"] and data["prices"]["aws"]["sources"]
    sync = next(t for t in data["tasks"] if t["task"] == "sync")
    assert sync["duration"] == {"seconds": 45, "source": "--duration",
                                "detail": "given with --duration"}
    assert set(sync["targets"]) == {"aws", "gcp", "k8s"}
    aws = sync["targets"]["aws"]
    assert aws["runs"] == 4464 and aws["usage"]["lambda_gb_seconds"]["quantity"] == 100440
    assert set(aws["cost_usd"]) == {"requests", "compute", "scheduler", "queues", "secrets",
                                    "logs"}
    for target in ("aws", "gcp", "k8s"):
        summed = sum(t["targets"][target]["total_usd"] for t in data["tasks"])
        assert abs(data["totals"][target]["total"] - summed) < 1e-5
    assert sync["cheapest"]["target"] == "k8s"
    assert sync["targets"]["aws"]["always_on"]["break_even_runs"] > 4464


def test_csv_rows_add_up_to_the_total_rows(flow):
    result = run(flow, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2 * 3 + 3
    for target in ("aws", "gcp", "k8s"):
        tasks = [r for r in rows if r["target"] == target and r["task"] != "TOTAL"]
        total = next(r for r in rows if r["target"] == target and r["task"] == "TOTAL")
        assert abs(sum(float(r["total_usd"]) for r in tasks) - float(total["total_usd"])) < 1e-5
    nightly = next(r for r in rows if r["task"] == "nightly" and r["target"] == "aws")
    assert (nightly["runs"], nightly["duration_s"], nightly["duration_source"]) == (
        "31", "1800", "timeout")


def test_table_names_the_cheapest_target_and_break_even(flow):
    result = run(flow, "--duration", "sync=45s", "--no-free-tier")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "flowc cost: shop, 2026-12" in out and "TOTAL" in out
    assert "  sync: k8s at $" in out and "  nightly: " in out
    assert "sync on aws: always-on ECS Fargate" in out and "break-even at 23,970 runs" in out


def test_measured_duration_from_run_history(flow):
    from flowc.emulator.history import History

    history = History(flow.parent / "state")
    for i, seconds in enumerate((10.0, 12.5, 40.0)):
        run_id = f"r{i}"
        history.start_run(run_id, "shop", "sync", "schedule", None, "t", "t")
        history.record_attempt(run_id, 1, "t", "t", "t", "t", 0, False, seconds, None)
        history.finish_run(run_id, "succeeded", "t", "t", 0)
    history.start_run("bad", "shop", "sync", "schedule", None, "t", "t")
    history.record_attempt("bad", 1, "t", "t", "t", "t", 1, False, 99.0, "boom")
    history.finish_run("bad", "failed", "t", "t", 1)
    history.close()
    data = json.loads(run(flow, "--format", "json").stdout)
    sync = next(t for t in data["tasks"] if t["task"] == "sync")
    assert sync["duration"]["source"] == "history" and sync["duration"]["seconds"] == 12.5
    assert sync["targets"]["aws"]["usage"]["lambda_gb_seconds"]["quantity"] == 4464 * 12.5 / 2
    # --duration wins over history
    data = json.loads(run(flow, "--format", "json", "--duration", "sync=1s").stdout)
    assert next(t for t in data["tasks"] if t["task"] == "sync")["duration"]["seconds"] == 1


def test_unknown_region_lists_known_ones_at_the_region_setting(flow):
    result, found = diagnostics(flow, "far")
    assert result.report is None
    aws, gcp = (next(d for d in result.diagnostics if word in d.message)
                for word in ("eu-north-9", "mars-central1"))
    assert (aws.span.file, aws.span.line, aws.span.column) == (str(flow), 20, 18)
    assert "`us-east-1`" in aws.help and "--prices" in aws.help
    assert gcp.code == "E801" and "`europe-west1`, `europe-west3`, `us-central1`" in gcp.help
    cli = run(flow, "--env", "far")
    assert cli.exit_code == 1 and "error[E801]: flowc has no aws prices for region" in cli.stderr
    assert '20 |   aws { region = "eu-north-9" }' in cli.stderr


REGIONS = {"aws": ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"),
           "gcp": ("us-central1", "europe-west1", "europe-west3", "asia-southeast1")}


@pytest.mark.parametrize("provider,region", [(p, r) for p, rs in REGIONS.items() for r in rs])
def test_every_region_people_use_has_a_complete_dated_price_file(provider, region):
    book = load_price_book(provider, region)
    assert book is not None and book.region == region
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", book.date)
    assert any(s.startswith("https://") for s in book.sources)


def test_a_spec_in_frankfurt_gets_an_answer_at_frankfurt_prices(flow):
    here, found = diagnostics(flow, "frankfurt", durations=["sync=45s"], free_tier=False)
    assert here.report is not None and "E801" not in found
    home, _ = diagnostics(flow, durations=["sync=45s"], free_tier=False)
    nightly = {name: next(t for t in r.report.tasks if t.task.name == "nightly")
               for name, r in (("frankfurt", here), ("default", home))}
    # Fargate and Cloud Run jobs cost more in Frankfurt (AWS regional rate, GCP tier 2)
    for target in ("aws", "gcp"):
        assert (nightly["frankfurt"].targets[target].by_category()["compute"]
                > nightly["default"].targets[target].by_category()["compute"])
    cli = run(flow, "--env", "frankfurt", "--format", "json")
    assert cli.exit_code == 0, cli.output
    prices = json.loads(cli.stdout)["prices"]
    assert (prices["aws"]["region"], prices["gcp"]["region"]) == ("eu-central-1", "europe-west3")


def test_prices_file_adds_a_region_and_overrides_rates(flow):
    custom = flow.parent / "negotiated.toml"
    text = (PRICING_DIR / "aws-us-east-1.toml").read_text()
    custom.write_text(text.replace('region = "us-east-1"', 'region = "eu-north-9"'))
    gcp = flow.parent / "gcp.toml"
    gcp.write_text('provider = "gcp"\nregion = "us-central1"\n[functions]\nvcpu_second = 0\n')
    result, found = diagnostics(flow, "far", price_files=[str(custom)])
    assert "E801" in found and "aws" not in found["E801"].message  # gcp still unknown
    base, _ = diagnostics(flow, durations=["sync=45s"], free_tier=False)
    cheap, _ = diagnostics(flow, durations=["sync=45s"], free_tier=False,
                           price_files=[str(gcp)])
    before = base.report.tasks[0].targets["gcp"].by_category()["compute"]
    after = cheap.report.tasks[0].targets["gcp"].by_category()["compute"]
    assert abs(before - after - 4464 * 45 * 0.333 * 0.000024) < 1e-6  # CPU now free
    assert cheap.report.books["gcp"].files[-1] == str(gcp)


@pytest.mark.parametrize("month", ["2026-13", "Dec", "2026/12", "1900-01"])
def test_bad_month(flow, month):
    result, found = diagnostics(flow, month=month)
    assert result.report is None and found["E802"].help
    cli = run(flow, "--month", month)
    assert cli.exit_code == 1 and "error[E802]" in cli.stderr and "^" in cli.stderr


@pytest.mark.parametrize(("value", "code"), [
    ("sync=3x", "E803"), ("sync", "E803"), ("sync=0s", "E803"), ("=30s", "E803"),
    ("synk=30s", "E804"),
])
def test_bad_duration(flow, value, code):
    result, found = diagnostics(flow, durations=[value])
    assert result.report is None and code in found and found[code].help
    assert found[code].span.file == "<command line>"
    cli = run(flow, "--duration", value)
    assert cli.exit_code == 1 and f"error[{code}]" in cli.stderr


def test_unknown_task_suggests_the_right_one(flow):
    _, found = diagnostics(flow, durations=["synk=30s"])
    assert found["E804"].help == "did you mean `sync`?"


def test_duration_given_twice(flow):
    _, found = diagnostics(flow, durations=["sync=30s", "sync=40s"])
    assert "twice" in found["E803"].message


def test_duration_over_the_timeout_is_capped_with_a_warning(flow):
    result, found = diagnostics(flow, durations=["sync=10m"])
    assert result.report is not None and "W801" in found
    assert result.report.tasks[0].duration.seconds == 120
    cli = run(flow, "--duration", "sync=10m", "--format", "json")
    assert cli.exit_code == 0 and "warning[W801]" in cli.stderr
    json.loads(cli.stdout)


@pytest.mark.parametrize(("content", "line", "words"), [
    ('provider = "aws"\nregion = "us-east-1"\n[lambda\n', 3, "not valid TOML"),
    ('provider = "aws"\nregion = "us-east-1"\n[lambda]\ngb_secnd = 1.0\n', 4, "unknown price"),
    ('provider = "aws"\nregion = "us-east-1"\n[lambda]\ngb_second = -1\n', 4, "number >= 0"),
    ('provider = "azure"\nregion = "x"\n', 1, "provider"),
    ('provider = "aws"\nregion = "ap-nowhere-1"\n[lambda]\ngb_second = 1.0\n', 1, "lacks"),
])
def test_bad_price_file(flow, content, line, words):
    path = flow.parent / "prices.toml"
    path.write_text(content)
    result, found = diagnostics(flow, price_files=[str(path)])
    assert result.report is None and "E805" in found, result.diagnostics
    assert words in found["E805"].message and found["E805"].span.line == line
    cli = run(flow, "--prices", str(path))
    assert cli.exit_code == 1 and "error[E805]" in cli.stderr


def test_missing_price_file(flow):
    _, found = diagnostics(flow, price_files=[str(flow.parent / "nope.toml")])
    assert "cannot read price file" in found["E805"].message


def test_errors_as_json_with_format_json(flow):
    cli = run(flow, "--format", "json", "--month", "13-2026")
    assert cli.exit_code == 1
    assert [d["code"] for d in json.loads(cli.stdout)] == ["E802"]
