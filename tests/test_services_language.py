"""`service NAME { ... }`: the IR it builds, layering, diagnostics, check == compile."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flowc.cli import app as cli
from flowc.compiler import ir
from flowc.compiler.pipeline import load_text
from flowc.grammar.format import format_tree
from flowc.grammar.parser import parse_text
from flowc.targets import registry

API = """app platform
secret db_url
defaults { memory = 1GB }
environment prod { replicas = 3..10 }
service api {
  image    = "ghcr.io/acme/api:1.4"
  command  = ["uvicorn", "app.main:app", "--port", "8000"]
  port     = 8000
  health   = "/health"
  replicas = 2
  scale_on = memory 80%
  public   = true
  cpu      = 0.5
  env { DATABASE_URL = secret.db_url }
  alert error_rate > 5% notify "oncall@acme.example"
  alert latency_p95 > 500ms notify "oncall@acme.example"
  alert unhealthy > 0 notify "oncall@acme.example"
  release { strategy = canary 10% for 10m }
  targets = [aws]
}
service worker {
  image   = "ghcr.io/acme/api:1.4"
  command = ["celery", "-A", "app.tasks", "worker"]
  alert memory > 85% notify "oncall@acme.example"
}
"""


def codes(text: str, env: str | None = None) -> list[str]:
    return [d.code for d in load_text(text, "app.flow", env).diagnostics]


def test_service_ir_with_layering():
    result = load_text(API, "app.flow")
    assert result.ok, [d.message for d in result.diagnostics]
    api, worker = result.app.services
    assert api.handler == ir.ImageHandler("ghcr.io/acme/api:1.4",
                                          ("uvicorn", "app.main:app", "--port", "8000"))
    assert (api.port, api.health, api.public, api.memory_mib, api.cpu) == (
        8000, "/health", True, 1024, 0.5)
    assert api.secrets == ("db_url",)
    assert api.release == ir.ServiceRelease("canary", 10.0, 600)
    assert [(a.metric, a.threshold) for a in api.alerts] == [
        ("error_rate", 5.0), ("latency_p95", 0.5), ("unhealthy", 0.0)]
    assert worker.is_worker and worker.health is None and worker.targets == registry.names()
    assert worker.scaling == ir.Scaling(1, 1, "cpu", 70.0)
    assert "W130" in codes(API)  # fixed replicas with scale_on
    prod = load_text(API, "app.flow", "prod").app
    # the environment's range reaches the worker; api's own `replicas = 2` wins
    assert prod.service("worker").scaling.max_replicas == 10
    assert prod.service("api").scaling.min_replicas == 2


@pytest.mark.parametrize("body, code, words", [
    ("  port = 70000\n", "E112", "between 1 and 65535"),
    ("  replicas = 0\n", "E130", "1..1000"),
    ("  replicas = 1..3\n  scale_on = cpu 170%\n", "E131", "not 1%..100%"),
    ("  replicas = 1..3\n  scale_on = cpu\n", "E131", "`cpu N%`"),
    ('  health = "health"\n', "E132", "not an HTTP path"),
    ("  release { strategy = canary 100% for 10m }\n", "E134", "between 0% and 100%"),
    ("  release { strategy = rollin }\n", "E134", "rolling"),
    ("  alert error_rate > 5 notify \"a@b.co\"\n", "E109", "percentage"),
    ("  alert p99 > 1s notify \"a@b.co\"\n", "E117", "latency_p95"),
    ("  memroy = 1GB\n", "E102", "memory"),
    ("  command = [\"x\"]\n  python = \"app:app\"\n", "E105", "both"),
])
def test_service_diagnostics(body, code, words):
    port = "" if "port" in body else "  port = 8000\n"
    text = 'service s {\n  image = "x:1"\n' + port + body + "}\n"
    found = [d for d in load_text(text, "app.flow").diagnostics if d.code == code]
    assert found, codes(text)
    rendered = found[0].message + " " + (found[0].help or "")
    assert words in rendered
    assert found[0].span is not None and found[0].span.line >= 2


def test_worker_alerts_and_names():
    worker = 'service w {\n  image = "x:1"\n  alert error_rate > 5% notify "a@b.co"\n}\n'
    assert "E117" in codes(worker)
    clash = 'task t {\n  image = "x:1"\n  schedule = "daily"\n}\nservice t {\n  image = "x:1"\n}\n'
    assert "E104" in codes(clash)
    assert "W102" not in codes('service w {\n  image = "x:1"\n}\n')


@pytest.mark.parametrize("body, target, words", [
    ('  python = "app:app"\n', "aws", "Lambda cannot run a long-lived worker"),
    ('  python = "app:app"\n', "gcp", "cannot run a long-lived worker"),
    ('  image = "x:1"\n  cpu = 0.3\n', "aws", "no size with cpu 0.3"),
    ('  image = "x:1"\n  cpu = 1\n  memory = 1GB\n', "aws", "allows memory 2048MB..8192MB"),
    ('  image = "x:1"\n  port = 80\n  memory = 40GB\n  cpu = 16\n', "gcp", "at most 32768MB"),
])
def test_what_a_target_cannot_run_is_an_error_naming_it(body, target, words):
    text = f"service s {{\n{body}  targets = [{target}]\n}}\n"
    errors = [d for d in load_text(text, "app.flow").diagnostics if d.code == "E230"]
    assert errors and f"on {target}" in errors[0].message and words in errors[0].message
    assert errors[0].help


def test_check_and_compile_reject_the_same(tmp_path):
    spec = tmp_path / "app.flow"
    spec.write_text('service s {\n  image = "x:1"\n  cpu = 0.3\n}\n')
    runner = CliRunner()
    checked = runner.invoke(cli, ["check", str(spec), "--format", "json"])
    compiled = runner.invoke(cli, ["compile", str(spec), "--out", str(tmp_path / "out")])
    assert checked.exit_code != 0 and compiled.exit_code != 0
    assert "E230" in checked.output and "E230" in compiled.output


def test_ranges_and_phrases_format_back_unchanged():
    text = ("service api {\n  image = \"x:1\"\n  port = 8000\n  replicas = 3..10\n"
            "  scale_on = cpu 70%\n  release { strategy = canary 10% for 10m }\n}\n")
    tree, diagnostics = parse_text(text, "app.flow")
    assert diagnostics == []
    out = format_tree(tree, text)
    assert "= 3..10\n" in out and "= cpu 70%\n" in out and "= canary 10% for 10m\n" in out
    assert format_tree(parse_text(out, "app.flow")[0], out) == out


def test_ir_json_carries_services(tmp_path):
    spec = tmp_path / "app.flow"
    spec.write_text(API)
    result = CliRunner().invoke(cli, ["compile", str(spec), "--emit", "ir", "--out",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / "ir.json").read_text())
    assert [s["name"] for s in data["services"]] == ["api", "worker"]
    assert data["services"][0]["scaling"]["metric"] == "memory"


def test_env_rules_apply_to_services(tmp_path):
    spec = tmp_path / "app.flow"
    spec.write_text('service s {\n  image = "x:1"\n  port = 8000\n  targets = [k8s]\n'
                    '  env {\n    PORT = "9"\n    FLOWC_X = "y"\n  }\n}\n')
    out = CliRunner().invoke(cli, ["check", str(spec), "--format", "json"])
    assert out.exit_code != 0
    found = {d["code"]: d for d in json.loads(out.output)}
    assert "service `s`" in found["E450"]["message"] and "PORT" in found["E450"]["message"]
    assert "service `s`" in found["E451"]["message"]


def test_flowc_run_names_a_service_as_such(tmp_path):
    spec = tmp_path / "app.flow"
    spec.write_text('service web {\n  image = "x:1"\n  port = 8000\n  targets = [k8s]\n}\n')
    out = CliRunner().invoke(cli, ["run", str(spec), "web"])
    assert out.exit_code == 1
    assert "is a service" in out.output and "--only web" in out.output
