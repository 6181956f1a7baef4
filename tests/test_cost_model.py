"""`flowc cost` prices two tasks per target to the cent, with and without free tiers.

Expected amounts are written out by hand below from the numbers in flowc/pricing/*.toml
(read here with tomllib, not through flowc.cost) and the README's assumptions: 4096 bytes
of logs per attempt, one secret read per secret per attempt, a dead-lettered run is one
2048-byte message. December 2026 in UTC has 31 days (744 hours).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from flowc.cost import cost_report

PRICING = Path(__file__).resolve().parent.parent / "flowc" / "pricing"
AWS = tomllib.loads((PRICING / "aws-us-east-1.toml").read_text())
GCP = tomllib.loads((PRICING / "gcp-us-central1.toml").read_text())
K8S = tomllib.loads((PRICING / "k8s.toml").read_text())
GIB = 1024**3
LOG = 4096  # bytes of logs per attempt (README: flowc cost assumptions)

SPEC = """\
app shop
secret api_key

task sync {
  python     = "jobs.main:main"
  schedule   = cron("*/10 * * * *")
  memory     = 512MB
  timeout    = 2m
  retries    = 2
  env { KEY = secret.api_key }
  on_failure = dead_letter
}

task nightly {
  image    = "busybox:1.36"
  schedule = "*-*-* 03:00"
  memory   = 2GB
  cpu      = 1
  timeout  = 30m
  retries  = 1
}
"""
SYNC_RUNS = 31 * 24 * 6  # every 10 minutes
NIGHTLY_RUNS = 31


def costs(spec, tmp_path, text=SPEC, **options):
    loaded = spec(text)
    assert loaded.ok, loaded.diagnostics
    options.setdefault("month", "2026-12")
    options.setdefault("durations", ["sync=45s"])
    result = cost_report(loaded.app, state_dir=tmp_path / "no-history", **options)
    assert result.report is not None, result.diagnostics
    return {tc.task.name: tc for tc in result.report.tasks}, result.report


def cents(actual: float, expected: float) -> None:
    assert abs(actual - expected) < 0.005, (actual, expected)


def test_two_tasks_on_aws_to_the_cent(spec, tmp_path):
    tasks, report = costs(spec, tmp_path, free_tier=False)
    lam, far, sch = AWS["lambda"], AWS["fargate"], AWS["scheduler"]
    sync = tasks["sync"].targets["aws"]
    assert sync.runs.runs == SYNC_RUNS and sync.product == "AWS Lambda"
    assert sync.usage()["lambda_gb_seconds"] == 4464 * 45 * 0.5
    expected = {
        "requests": 4464 * lam["request_per_million"] / 1e6,
        "compute": 4464 * 45 * (512 / 1024) * lam["gb_second"],
        "scheduler": 4464 * sch["invocation_per_million"] / 1e6,
        "queues": 0.0,
        "secrets": 1 * AWS["secrets"]["secret_month"]
        + 4464 * 1 * AWS["secrets"]["api_calls_per_10k"] / 1e4,
        "logs": 4464 * LOG / GIB * AWS["logs"]["ingestion_gb"],
    }
    for category, usd in expected.items():
        cents(sync.by_category()[category], usd)
    cents(sync.total, sum(expected.values()))
    cents(sync.total, 2.11)  # 0.0009 + 1.6740 + 0.0045 + 0.4223 + 0.0085

    nightly = tasks["nightly"].targets["aws"]  # Fargate 1 vCPU / 2 GB, 30 min (timeout)
    assert nightly.product == "ECS Fargate" and nightly.duration.source == "timeout"
    compute = 31 * 1800 * 1 * far["vcpu_hour"] / 3600 + 31 * 1800 * 2 * far["gb_hour"] / 3600
    cents(nightly.by_category()["compute"], compute)
    cents(nightly.total, compute + 31 * 1.00 / 1e6 + 31 * LOG / GIB * 0.50)
    cents(nightly.total, 0.77)
    cents(report.totals("aws")["total"], sync.total + nightly.total)


def test_two_tasks_on_gcp_to_the_cent(spec, tmp_path):
    tasks, report = costs(spec, tmp_path, free_tier=False)
    fn, job, sch = GCP["functions"], GCP["jobs"], GCP["scheduler"]
    sync = tasks["sync"].targets["gcp"]  # 512 MiB function: 0.333 vCPU
    assert sync.product == "Cloud Run functions" and sync.size.vcpu == 0.333
    expected_sync = (
        4464 * fn["request_per_million"] / 1e6
        + 4464 * 45 * 0.333 * fn["vcpu_second"] + 4464 * 45 * 0.5 * fn["gib_second"]
        + 1 * 31 * sch["job_31_days"] / 31  # one job all month
        + 1 * GCP["secrets"]["version_month"] + 4464 * GCP["secrets"]["access_per_10k"] / 1e4
        + 4464 * LOG / GIB * GCP["logs"]["ingestion_gib"]
    )
    cents(sync.by_category()["scheduler"], 0.10)
    cents(sync.total, expected_sync)
    cents(sync.total, 2.04)  # 0.0018 + 1.6054 + 0.2511 + 0.10 + 0.0734 + 0.0085

    nightly = tasks["nightly"].targets["gcp"]  # Cloud Run job, 1 vCPU, 2 GiB, 1800 s
    expected_nightly = (31 * 1800 * 1 * job["vcpu_second"] + 31 * 1800 * 2 * job["gib_second"]
                        + 0.10 + 31 * LOG / GIB * 0.50)
    cents(nightly.total, expected_nightly)
    cents(nightly.total, 1.33)
    cents(report.totals("gcp")["scheduler"], 0.20)


def test_two_tasks_on_k8s_to_the_cent(spec, tmp_path):
    tasks, _ = costs(spec, tmp_path, free_tier=False)
    node = K8S["node"]
    sync = tasks["sync"].targets["k8s"]  # no cpu set: the CronJob requests 100m
    assert sync.size.vcpu == 0.1
    cents(sync.total, 4464 * 45 * 0.1 * node["vcpu_hour"] / 3600
          + 4464 * 45 * 0.5 * node["gib_hour"] / 3600)
    nightly = tasks["nightly"].targets["k8s"]
    cents(nightly.total, 31 * 1800 * 1 * node["vcpu_hour"] / 3600
          + 31 * 1800 * 2 * node["gib_hour"] / 3600)
    cents(nightly.total, 0.43)  # 55,800 s x (0.021811 + 2 x 0.002923) / 3600


def test_worst_case_bills_every_retry_and_dead_letter(spec, tmp_path):
    tasks, _ = costs(spec, tmp_path, free_tier=False)
    sync = tasks["sync"].targets["aws"]
    attempts = 4464 * (1 + 2)
    assert sync.worst_attempts == attempts
    cents(sync.worst_total,
          attempts * 0.20 / 1e6 + attempts * 45 * 0.5 * AWS["lambda"]["gb_second"]
          + attempts * 1.00 / 1e6
          + 4464 * AWS["queue"]["request_per_million"] / 1e6  # every run dead-lettered
          + 0.40 + attempts * 0.05 / 1e4 + attempts * LOG / GIB * 0.50)
    cents(sync.worst_total, 5.53)


def test_break_even_against_always_on(spec, tmp_path):
    tasks, _ = costs(spec, tmp_path, free_tier=False)
    sync = tasks["sync"].targets["aws"]  # always-on: Fargate 0.25 vCPU / 0.5 GB, 744 h
    always_on = 744 * (0.25 * AWS["fargate"]["vcpu_hour"] + 0.5 * AWS["fargate"]["gb_hour"])
    per_run = (0.20 / 1e6 + 45 * 0.5 * AWS["lambda"]["gb_second"] + 1.00 / 1e6
               + 1 * 0.05 / 1e4 + LOG / GIB * 0.50)
    cents(sync.always_on.monthly_usd, always_on)
    assert sync.break_even_runs == math.floor(always_on / per_run) + 1 == 23_970
    assert SYNC_RUNS < sync.break_even_runs  # scheduled is cheaper at this rate
    # Fargate task vs the same Fargate size always on: cheaper only when its runs fill
    # almost the whole month (each run also pays its overlap guard's 6 state transitions),
    # and never without the guard (it would have to run back to back all month).
    nightly = tasks["nightly"].targets["aws"]
    guard = 6 * AWS["stepfunctions"]["transition_per_thousand"] / 1e3
    assert nightly.break_even_runs == math.floor(
        nightly.always_on.monthly_usd / nightly.per_run_usd) + 1
    assert nightly.break_even_runs * 1800 > 0.99 * 744 * 3600
    allow = SPEC.replace("  retries  = 1\n}", "  retries  = 1\n  overlap  = allow\n}")
    assert allow != SPEC
    allowed, _ = costs(spec, tmp_path, allow, free_tier=False)
    assert allowed["nightly"].targets["aws"].break_even_runs is None
    assert "sfn_state_transitions" not in {
        line.meter for line in allowed["nightly"].targets["aws"].lines}
    assert nightly.per_run_usd - allowed["nightly"].targets["aws"].per_run_usd == \
        pytest.approx(guard)


def test_cheapest_target_per_task(spec, tmp_path):
    tasks, _ = costs(spec, tmp_path, free_tier=False)
    best, more = tasks["sync"].cheapest()
    totals = {t: c.total for t, c in tasks["sync"].targets.items()}
    assert best == min(totals, key=totals.get) == "k8s"
    for target, extra in more.items():
        cents(extra, totals[target] - totals["k8s"])


FREE_SPEC = SPEC.replace("task nightly {", "task heavy {\n  python = \"jobs.main:main\"\n"
                         "  schedule = cron(\"* * * * *\")\n  memory = 1GB\n  timeout = 1m\n"
                         "  retries = 0\n  targets = [aws, gcp]\n}\n\ntask nightly {")


def test_free_tiers_are_shared_by_the_tasks_that_use_them(spec, tmp_path):
    durations = ["sync=45s", "heavy=30s"]
    tasks, _ = costs(spec, tmp_path, FREE_SPEC, durations=durations)
    # AWS Lambda: 400,000 free GB-s a month, shared in proportion to use.
    heavy_gbs, sync_gbs = 44640 * 30 * 1.0, 4464 * 45 * 0.5
    billable = heavy_gbs + sync_gbs - AWS["lambda"]["free_gb_seconds"]
    heavy_aws = heavy_gbs / (heavy_gbs + sync_gbs) * billable * AWS["lambda"]["gb_second"]
    cents(tasks["heavy"].targets["aws"].total, heavy_aws)  # requests etc. within free tiers
    cents(tasks["heavy"].targets["aws"].total, 16.12)  # 967,104 billable GB-s
    sync_aws = sync_gbs / (heavy_gbs + sync_gbs) * billable * AWS["lambda"]["gb_second"]
    cents(tasks["sync"].targets["aws"].total, sync_aws + 0.40 + 4464 * 0.05 / 1e4)
    # Cloud Run: a $4.32 CPU and $0.90 memory discount a month, services and jobs alike.
    fn, job = GCP["functions"], GCP["jobs"]
    cpu = {"heavy": 44640 * 30 * 0.583 * fn["vcpu_second"],
           "sync": 4464 * 45 * 0.333 * fn["vcpu_second"],
           "nightly": 31 * 1800 * 1 * job["vcpu_second"]}
    mem = {"heavy": 44640 * 30 * 1.0 * fn["gib_second"],
           "sync": 4464 * 45 * 0.5 * fn["gib_second"],
           "nightly": 31 * 1800 * 2 * job["gib_second"]}
    cpu_bill = sum(cpu.values()) - GCP["run_free_tier"]["cpu_usd"]
    mem_bill = sum(mem.values()) - GCP["run_free_tier"]["memory_usd"]
    for name in ("heavy", "nightly"):
        compute = (cpu[name] / sum(cpu.values()) * cpu_bill
                   + mem[name] / sum(mem.values()) * mem_bill)
        cents(tasks[name].targets["gcp"].by_category()["compute"], compute)
    cents(tasks["heavy"].targets["gcp"].total, 17.51)  # 14.9463 CPU + 2.5597 memory
    # 3 Cloud Scheduler jobs, 6 secret versions, 10,000 accesses, 2M requests: all free.
    assert tasks["sync"].targets["gcp"].by_category()["scheduler"] == 0
    assert tasks["sync"].targets["gcp"].by_category()["secrets"] == 0


def test_free_tier_switch(spec, tmp_path):
    on, _ = costs(spec, tmp_path, free_tier=True)
    off, _ = costs(spec, tmp_path, free_tier=False)
    # Lambda (100,440 GB-s) and everything else on AWS but the secret fit the free tiers.
    cents(on["sync"].targets["aws"].total, 0.40 + 4464 * 0.05 / 1e4)
    assert off["sync"].targets["aws"].total > on["sync"].targets["aws"].total + 1.6
    assert on["sync"].targets["gcp"].total == 0  # all within Cloud Run's free tier
    # Fargate and the node-share model have no free tier.
    for target in ("aws", "k8s"):
        assert (on["nightly"].targets[target].by_category()["compute"]
                == off["nightly"].targets[target].by_category()["compute"] > 0.4)


@pytest.mark.parametrize(("free", "each"), [(True, 2 * 30 * 0.10 / 31 / 5),
                                            (False, 30 * 0.10 / 31)])
def test_cloud_scheduler_bills_jobs_per_day_with_three_free(spec, tmp_path, free, each):
    text = "".join(f'task t{i} {{\n  python = "jobs.main:main"\n  schedule = "daily"\n'
                   f"  targets = [gcp]\n}}\n" for i in range(5))
    tasks, report = costs(spec, tmp_path, text, month="2026-11", durations=[],
                          free_tier=free)
    for tc in tasks.values():  # November: 30 days; 5 jobs, 3 of them free
        cents(tc.targets["gcp"].by_category()["scheduler"], each)
    cents(report.totals("gcp")["scheduler"], 5 * each)


def test_overlapping_runs_are_flagged(spec, tmp_path):
    text = ('task busy {\n  python = "jobs.main:main"\n  schedule = cron("* * * * *")\n'
            "  timeout = 5m\n  targets = [k8s]\n}\n")
    tasks, _ = costs(spec, tmp_path, text, durations=[])
    cost = tasks["busy"].targets["k8s"]
    assert cost.runs.runs == 44640 and cost.busy == 44640 * 300 / (744 * 3600) == 5.0
    # The same rate as its always-on twin: no break-even for one container.
    assert cost.break_even_runs is None
    cents(cost.total, 5 * cost.always_on.monthly_usd)
