"""`flowc cost` prices services next to tasks: always-on replicas, load balancers, the
lowest and highest replica counts, from the same dated price files."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.compiler.pipeline import load
from flowc.cost import cost_report
from flowc.cost.pricing import load_price_book
from flowc.cost.report import render_csv, render_table
from tests.conftest import EXAMPLES

MONTH = "2026-12"
HOURS = 31 * 24


@pytest.fixture(scope="module")
def report():
    loaded = load(EXAMPLES / "platform.flow", "prod")
    assert loaded.ok
    result = cost_report(loaded.app, month=MONTH)
    assert result.report is not None, result.diagnostics
    return result.report


def service(report, name):
    return next(sc for sc in report.services if sc.service.name == name)


def test_fargate_service_is_priced_per_replica_hour_plus_its_load_balancer(report):
    book = load_price_book("aws", "eu-west-1")
    api = service(report, "api").targets["aws"]  # 0.5 vCPU, 1 GiB, replicas 3..10
    per_replica = 0.5 * book.rate("fargate", "vcpu_hour") + 1 * book.rate("fargate", "gb_hour")
    alb = HOURS * book.rate("alb", "hour")
    # blue_green: the colour out of traffic keeps the lowest replicas (3) for rollback
    assert api.total == pytest.approx((3 + 3) * HOURS * per_replica + alb)
    assert api.worst_total == pytest.approx((10 + 3) * HOURS * per_replica + alb)
    assert "x2 (blue, green)" in api.product
    worker = service(report, "worker").targets["aws"]  # no port: no load balancer
    assert not [line for line in worker.lines if line.category == "load_balancer"]


def test_cloud_run_and_kubernetes_services(report):
    gcp_book, k8s_book = load_price_book("gcp", "europe-west1"), load_price_book("k8s", None)
    frontend = service(report, "frontend")  # 0.25 vCPU asked, 512 MiB, replicas 2..4
    run = frontend.targets["gcp"]
    per_instance = 3600 * (1.0 * gcp_book.rate("jobs", "vcpu_second")  # Cloud Run's least cpu
                           + 0.5 * gcp_book.rate("jobs", "gib_second"))
    assert run.total == pytest.approx(2 * HOURS * per_instance)
    assert run.worst_total == pytest.approx(4 * HOURS * per_instance)
    pods = frontend.targets["k8s"]
    assert pods.total == pytest.approx(2 * HOURS * (0.25 * k8s_book.rate("node", "vcpu_hour")
                                                    + 0.5 * k8s_book.rate("node", "gib_hour")))
    assert "gcp" not in service(report, "api").targets  # api runs on aws and k8s only


def test_totals_add_tasks_and_services(report):
    data = report.to_json()
    for target in ("aws", "gcp", "k8s"):
        services = sum(sc["targets"][target]["total_usd"] for sc in data["services"]
                       if target in sc["targets"])
        assert data["grand_totals"][target]["total"] == pytest.approx(
            data["totals"][target]["total"] + services, abs=1e-5)
    assert any("LCU" in note for note in data["notes"])


def test_table_and_csv_show_services(report):
    table = render_table(report, width=220)
    assert "Services (always on" in table and "TASKS + SERVICES" in table
    rows = list(csv.DictReader(io.StringIO(render_csv(report))))
    api = [r for r in rows if r["task"] == "service:api"]
    assert {r["target"] for r in api} == {"aws", "k8s"}


def test_a_spec_without_services_reports_as_before(tmp_path):
    spec = tmp_path / "app.flow"
    spec.write_text('task t {\n  image = "busybox:1.36"\n  schedule = "daily"\n'
                    '  targets = [k8s]\n}\n')
    out = CliRunner().invoke(cli, ["cost", str(spec), "--month", MONTH, "--format", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert "services" not in data and "grand_totals" not in data
