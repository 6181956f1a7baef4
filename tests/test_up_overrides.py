"""The override file `flowc up` writes beside the AWS output: endpoints for every service the
output uses, test credentials, a local backend, local-only settings, E606 for unknown types,
and the real AWS provider accepts it (terraform validate with the mirror)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest

from flowc.deploy import overrides
from flowc.deploy.terraform import terraform_environment, write_cli_config
from tests.aws_support import MIRROR, ROOT

GOLDEN = ROOT / "tests" / "golden" / "aws" / "reports-prod.cdk.tf.json"
URL = "http://127.0.0.1:4599"


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(GOLDEN.read_text())


def test_every_service_the_output_uses_points_at_the_local_cloud(doc):
    override, diagnostics = overrides.override_document(doc, URL)
    assert diagnostics == []
    (provider,) = override["provider"]["aws"]
    endpoints = provider["endpoints"][0]
    assert set(endpoints.values()) == {URL}
    for block in ("resource", "data"):
        for type_ in doc.get(block, {}):
            service = overrides.service_for(type_)
            assert service is not None, type_
            assert service == "" or service in endpoints, (type_, service)
    # the example uses at least these services, and no service it does not use is added
    assert {"lambda", "iam", "sqs", "sns", "scheduler", "secretsmanager", "logs",
            "cloudwatch", "ecs", "kms", "sts"} <= set(endpoints)
    used = {overrides.service_for(t) for b in ("resource", "data") for t in doc.get(b, {})}
    assert set(endpoints) == (used | set(overrides.ALWAYS)) - {""}
    assert "s3" not in endpoints
    assert provider["access_key"] == provider["secret_key"] == "test"
    for flag in ("skip_credentials_validation", "skip_requesting_account_id",
                 "skip_metadata_api_check", "s3_use_path_style"):
        assert provider[flag] is True


def test_backend_is_local_and_local_only_settings_are_applied(doc):
    doc = copy.deepcopy(doc)
    doc["terraform"]["backend"] = {"s3": {"bucket": "acme-state", "key": "reports.tfstate"}}
    override, _ = overrides.override_document(doc, URL)
    assert override["terraform"]["backend"] == {"local": {"path": "terraform.tfstate"}}
    secrets = override["resource"]["aws_secretsmanager_secret"]
    assert set(secrets) == set(doc["resource"]["aws_secretsmanager_secret"])
    assert all(s == {"recovery_window_in_days": 0} for s in secrets.values())
    functions = override["resource"]["aws_lambda_function"]
    assert set(functions) == set(doc["resource"]["aws_lambda_function"])
    assert all(f["lifecycle"]["ignore_changes"] == ["logging_config"]
               for f in functions.values())


def test_aliased_providers_each_get_the_endpoints():
    doc = {"provider": {"aws": [{"region": "us-east-1"},
                                {"region": "eu-west-1", "alias": "eu"}]},
           "resource": {"aws_sqs_queue": {"q": {"name": "q"}}}}
    override, _ = overrides.override_document(doc, URL)
    providers = override["provider"]["aws"]
    assert [p.get("alias") for p in providers] == [None, "eu"]
    assert all(p["endpoints"][0]["sqs"] == URL for p in providers)


def test_unknown_resource_type_is_E606_and_writes_nothing(tmp_path):
    doc = {"provider": {"aws": [{"region": "us-east-1"}]},
           "resource": {"aws_sqs_queue": {"q": {}}, "aws_widgetry_gadget": {"g": {}}}}
    (tmp_path / "cdk.tf.json").write_text(json.dumps(doc))
    path, diagnostics = overrides.write_override(tmp_path, URL)
    assert [d.code for d in diagnostics] == ["E606"]
    assert "aws_widgetry_gadget" in diagnostics[0].message and diagnostics[0].help
    assert not path.exists()


def test_override_is_valid_for_the_real_provider_with_every_known_endpoint(doc, tmp_path):
    if shutil.which("terraform") is None or not MIRROR.is_dir():
        pytest.skip("terraform or the provider mirror /opt/tf-plugins is absent on this machine")
    work = tmp_path / "aws"
    work.mkdir()
    (work / "cdk.tf.json").write_text(json.dumps(doc))
    path, diagnostics = overrides.write_override(work, URL)
    assert diagnostics == [] and path.name.endswith("_override.tf.json")
    override = json.loads(path.read_text())
    every = sorted(set(overrides.SERVICES.values()) | set(overrides.ALWAYS))
    override["provider"]["aws"][0]["endpoints"] = [{s: URL for s in every}]
    path.write_text(json.dumps(override))
    env = terraform_environment(write_cli_config(tmp_path / "up", MIRROR))
    init = subprocess.run(["terraform", "init", "-backend=false", "-input=false", "-no-color"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stdout + init.stderr
    out = subprocess.run(["terraform", "validate", "-json", "-no-color"], cwd=work, env=env,
                         capture_output=True, text=True)
    report = json.loads(out.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
