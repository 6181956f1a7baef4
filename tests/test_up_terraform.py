"""Running Terraform for `flowc up`: finding it (E602), init from the mirror (E603), reading
its JSON UI, and blaming its errors on the flowc task (E604) or on shared resources (E605)."""

from __future__ import annotations

import json
import shutil

import pytest
from rich.console import Console

from flowc.compiler.pipeline import load
from flowc.deploy.blame import blame, shorten
from flowc.deploy.progress import Progress
from flowc.deploy.terraform import (
    EVENTS_FILE,
    GO_GC,
    Event,
    Result,
    Terraform,
    TerraformError,
    find_terraform,
    mirrored_providers,
    write_cli_config,
)
from flowc.targets.owners import owner, split_address
from tests.aws_support import MIRROR, ROOT

GOLDEN = ROOT / "tests" / "golden" / "aws" / "reports-prod.cdk.tf.json"
EXAMPLE = ROOT / "examples" / "reports.flow"


@pytest.fixture(scope="module")
def app():
    result = load(EXAMPLE, "prod")
    assert result.ok
    return result.app


@pytest.fixture(scope="module")
def doc():
    return json.loads(GOLDEN.read_text())


def _line(type_: str, **fields) -> str:
    return json.dumps({"@level": "info", "@message": fields.pop("message", type_),
                       "@module": "terraform.ui", "type": type_, **fields})


def _hook(address: str, action: str, **extra) -> dict:
    type_, name = address.split(".")
    return {"resource": {"addr": address, "module": "", "resource": address,
                         "resource_type": type_, "resource_name": name, "resource_key": None},
            "action": action, **extra}


def _error(address: str | None, summary: str) -> str:
    diag = {"severity": "error", "summary": summary, "detail": ""}
    if address:
        diag["address"] = address
    return json.dumps({"@level": "error", "@message": f"Error: {summary}", "type": "diagnostic",
                       "diagnostic": diag})


def test_missing_terraform_is_E602(tmp_path):
    with pytest.raises(TerraformError) as err:
        find_terraform({"PATH": str(tmp_path)})
    assert err.value.diagnostic.code == "E602"
    assert "PATH" in err.value.diagnostic.message and err.value.diagnostic.help


def test_init_without_the_provider_in_the_mirror_is_E603(tmp_path):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed on this machine")
    mirror = tmp_path / "mirror"
    (mirror / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)  # no package
    assert mirrored_providers(mirror) == ["registry.terraform.io/hashicorp/aws"]
    rc = write_cli_config(tmp_path / "up", mirror)
    assert 'exclude = ["registry.terraform.io/hashicorp/aws"]' in rc.read_text()
    work = tmp_path / "aws"
    work.mkdir()
    (work / "main.tf.json").write_text(json.dumps({"terraform": {"required_providers": {
        "aws": {"source": "hashicorp/aws", "version": "~> 5.100"}}}}))
    with pytest.raises(TerraformError) as err:
        Terraform(work, rc, shutil.which("terraform")).init()
    d = err.value.diagnostic
    assert d.code == "E603" and "hashicorp/aws" in d.message + " ".join(d.notes)
    assert "mirror" in d.help


def test_init_runs_again_only_when_providers_backend_or_config_change(tmp_path, monkeypatch):
    if shutil.which("terraform") is None or not MIRROR.is_dir():
        pytest.skip("terraform or the provider mirror /opt/tf-plugins is absent")
    rc = write_cli_config(tmp_path / "up", MIRROR)
    work = tmp_path / "aws"
    work.mkdir()
    main = {"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws"}}}}
    (work / "main.tf.json").write_text(json.dumps(main))
    tf = Terraform(work, rc, shutil.which("terraform"))
    runs = []
    real_init = tf._init
    monkeypatch.setattr(tf, "_init", lambda: (runs.append(1), real_init()))
    tf.init()
    assert (work / ".terraform.lock.hcl").is_file() and len(runs) == 1
    (work / "main.tf.json").write_text(json.dumps({**main, "locals": {"x": 1}}))  # not init's
    tf.init()
    assert len(runs) == 1
    (work / "x_override.tf.json").write_text(json.dumps(
        {"terraform": {"required_version": ">= 1.0"}}))
    tf.init()
    assert len(runs) == 2
    other = Terraform(work, write_cli_config(tmp_path / "up2", MIRROR),
                      shutil.which("terraform"))
    monkeypatch.setattr(other, "_init", lambda: (runs.append(1), real_init()))
    other.init()  # another CLI config (plugin cache)
    assert len(runs) == 3
    (work / ".terraform.lock.hcl").unlink()
    other.init()
    assert len(runs) == 4


def test_cli_config_takes_mirrored_providers_from_the_mirror_only(tmp_path):
    if not MIRROR.is_dir():
        pytest.skip("the provider mirror /opt/tf-plugins is absent on this machine")
    text = write_cli_config(tmp_path, MIRROR).read_text()
    assert f'path    = "{MIRROR}"' in text
    assert 'include = ["registry.terraform.io/hashicorp/aws"]' in text


def test_json_ui_lines_become_a_result():
    lines = [
        _line("version", terraform="1.11.4"),
        _line("planned_change", change=_hook("aws_sqs_queue.a_dlq", "create")),
        _line("planned_change", change=_hook("aws_lambda_function.a_function", "replace")),
        _line("change_summary", changes={"add": 1, "change": 0, "remove": 0,
                                         "operation": "plan"}),
        _line("apply_start", hook=_hook("aws_sqs_queue.a_dlq", "create")),
        _line("apply_complete", hook=_hook("aws_sqs_queue.a_dlq", "create",
                                           elapsed_seconds=25)),
        _line("apply_errored", hook=_hook("aws_lambda_function.a_function", "create")),
        _error("aws_lambda_function.a_function", "boom"),
        "panic: not json\n",
        _line("change_summary", changes={"add": 1, "change": 0, "remove": 0,
                                         "operation": "apply"}),
    ]
    result = Result(returncode=1)
    for line in lines:
        result.add(Event.parse(line))
    assert result.plan == (1, 0, 0) and result.applied == (1, 0, 0)
    assert result.completed == [("aws_sqs_queue.a_dlq", "create", 25)]
    assert result.failed == {"aws_lambda_function.a_function": "create"}
    assert result.replaced == ["aws_lambda_function.a_function"]
    assert [e["address"] for e in result.errors] == ["aws_lambda_function.a_function"]
    assert result.text == ["panic: not json"] and not result.ok


def test_every_resource_named_after_a_task_is_blamed_on_it(app, doc):
    tasks = sorted((t.name for t in app.tasks), key=len, reverse=True)
    checked = 0
    for type_, bodies in doc["resource"].items():
        for name in bodies:
            by_name = next((t for t in tasks if name.startswith(t + "_")), None)
            who = owner(app, doc, f"{type_}.{name}")
            if by_name is not None:
                assert who is not None and who[:2] == ("task", by_name), (type_, name, who)
                assert who[2] == app.task(by_name).span
                checked += 1
            elif type_ == "aws_secretsmanager_secret":
                assert who is not None and who[0] == "secret"
            else:
                assert who is None, (type_, name, who)  # KMS key, schedule group, cluster
    assert checked >= 10


def test_untagged_resources_are_blamed_through_what_they_reference(app):
    doc = {"resource": {
        "aws_iam_role": {"r1": {"name": "x", "tags": {"task": "digest"}}},
        "aws_iam_role_policy": {"p1": {"role": "${aws_iam_role.r1.id}"}},
        "aws_kms_key": {"k": {"tags": {"app": "reports"}}},
        "aws_kms_alias": {"kms_alias": {"target_key_id": "${aws_kms_key.k.key_id}"}},
        "aws_secretsmanager_secret": {"db_url_secret": {"name": "s", "tags": {}}},
    }}
    assert owner(app, doc, "aws_iam_role_policy.p1")[:2] == ("task", "digest")
    assert owner(app, doc, "module.m.aws_iam_role_policy.p1[0]")[:2] == ("task", "digest")
    assert owner(app, doc, "aws_kms_alias.kms_alias") is None
    assert owner(app, doc, "aws_secretsmanager_secret.db_url_secret")[:2] == ("secret",
                                                                            "db_url")
    assert split_address("data.aws_region.region") == ("data", "aws_region", "region")


def test_errors_are_E604_on_the_task_and_E605_on_shared_resources(app, doc):
    summary = ("creating IAM Role (reports-prod-digest-lambda): operation error IAM: CreateRole, "
               "https response error StatusCode: 409, RequestID: 4c1f, EntityAlreadyExists: "
               "Role with name reports-prod-digest-lambda already exists.")
    role = next(n for n, b in doc["resource"]["aws_iam_role"].items()
                if b["tags"].get("task") == "digest")
    result = Result(returncode=1)
    for line in (_line("apply_errored", hook=_hook(f"aws_iam_role.{role}", "create")),
                 _error(f"aws_iam_role.{role}", summary),
                 _error("aws_kms_alias.kms_alias", "creating KMS Alias: AlreadyExistsException"),
                 _error(None, "Invalid provider configuration")):
        result.add(Event.parse(line))
    d604, d605, d605b = blame(app, doc, result, "/tmp/work")
    assert d604.code == "E604" and d604.span == app.task("digest").span
    assert "task `digest`" in d604.message and f"aws_iam_role.{role}" in d604.message
    assert "creating" in d604.message and "RequestID" not in d604.message
    assert "already exists" in d604.help
    assert d605.code == "E605" and d605.span is None and "aws_kms_alias" in d605.message
    assert d605b.code == "E605" and "Invalid provider configuration" in d605b.message
    assert shorten(summary).startswith("creating IAM Role (reports-prod-digest-lambda): "
                                       "EntityAlreadyExists")


def test_a_failed_run_without_diagnostics_still_reports_E605(app, doc):
    result = Result(returncode=1, text=["fatal: crashed"])
    (d,) = blame(app, doc, result, "/tmp/work")
    assert d.code == "E605" and "exited with code 1" in d.message and "fatal" in d.notes[0]


def test_progress_names_the_task_of_each_finished_resource(app, doc):
    console = Console(record=True, width=200)
    fn = next(n for n, b in doc["resource"]["aws_lambda_function"].items()
              if b["tags"]["task"] == "digest")
    with Progress(console, app, doc) as progress:
        progress(Event.parse(_line("change_summary", message="Plan: 2 to add, 1 to change, "
                                   "0 to destroy.", changes={"operation": "plan", "add": 2,
                                                             "change": 1, "remove": 0})))
        progress(Event.parse(_line("apply_start", hook=_hook("aws_region.region", "read"))))
        progress(Event.parse(_line("apply_complete", hook=_hook("aws_region.region", "read"))))
        progress(Event.parse(_line("apply_start",
                                   hook=_hook(f"aws_lambda_function.{fn}", "create"))))
        assert f"[0/3] creating aws_lambda_function.{fn}" in progress._text()
        progress(Event.parse(_line("apply_complete", hook=_hook(
            f"aws_lambda_function.{fn}", "create", elapsed_seconds=5))))
        assert progress._text() == "Applying: applying…"
        (bar,) = progress.bar.tasks  # the bar counts changes, not data sources read
        assert (bar.completed, bar.total) == (1, 3)
        progress(Event.parse(_line("apply_start", hook=_hook("aws_sqs_queue.q", "create"))))
        assert "[1/3] creating aws_sqs_queue.q" in progress._text()
    text = console.export_text()
    assert f"+ aws_lambda_function.{fn}  (task digest)  5s" in text
    assert "aws_region" not in text


def test_each_command_keeps_its_json_stream_and_runs_with_a_larger_go_gc_target(tmp_path):
    if shutil.which("terraform") is None:
        pytest.skip("terraform is absent on this machine")
    work = tmp_path / "aws"
    work.mkdir()
    (work / "main.tf.json").write_text(json.dumps({"output": {"x": {"value": "y"}}}))
    tf = Terraform(work, write_cli_config(tmp_path / "up", tmp_path / "no-mirror"),
                   shutil.which("terraform"))
    assert tf.env["GOGC"] == GO_GC
    assert Terraform(work, tmp_path / "up" / "terraform.rc", "terraform",
                     {"GOGC": "100"}).env["GOGC"] == "100"  # the caller's own setting wins
    result = tf.plan("x.tfplan")  # no provider, no backend: nothing to initialise
    assert result.ok and result.plan == (0, 0, 0)
    kept = [json.loads(line) for line in (work / EVENTS_FILE).read_text().splitlines()]
    assert kept[0]["type"] == "version" and "@timestamp" in kept[0]
    assert any(e["type"] == "change_summary" for e in kept)
