"""The override file `flowc up` writes beside the AWS output: the local cloud's endpoint for
every AWS call (through a profile of an AWS config file), test credentials, a local
backend, local-only settings, E606 for unknown types, and the real AWS provider accepts it
(terraform validate with the mirror) and sends its calls to that endpoint."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest

from flowc.deploy import overrides, subnets
from flowc.deploy.terraform import terraform_environment, write_cli_config
from tests.aws_support import MIRROR, ROOT

GOLDEN = ROOT / "tests" / "golden" / "aws" / "reports-prod.cdk.tf.json"
SERVICES_GOLDEN = ROOT / "tests" / "golden" / "aws" / "platform-prod.cdk.tf.json"  # services
URL = "http://127.0.0.1:4599"


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(GOLDEN.read_text())


def test_services_output_is_served_and_gets_its_local_only_settings(tmp_path):
    services_doc = json.loads(SERVICES_GOLDEN.read_text())
    override, diagnostics = overrides.override_document(services_doc,
                                                        tmp_path / overrides.CONFIG_FILE)
    assert diagnostics == []
    used, _ = overrides.services_used(services_doc)
    # the provider's endpoint keys (`terraform providers schema`, AWS provider 5.100)
    assert {"elbv2", "appautoscaling", "apigatewayv2", "ec2", "ecs", "lambda"} <= set(used)
    # moto reads these back as unset: ignored after creation, flowc's own ignore kept
    ecs = override["resource"]["aws_ecs_service"]
    assert set(ecs) == set(services_doc["resource"]["aws_ecs_service"])
    assert ecs["svc_api_blue"]["wait_for_steady_state"] is False
    ignored = ecs["svc_api_blue"]["lifecycle"]["ignore_changes"]
    assert ignored[0] == "desired_count" and "health_check_grace_period_seconds" in ignored
    assert "lifecycle" not in services_doc["resource"]["aws_ecs_service"]["svc_dashboard"]
    assert ecs["svc_dashboard"]["lifecycle"]["ignore_changes"] == \
        overrides.IGNORE_CHANGES["aws_ecs_service"]


def test_the_provider_reads_the_local_endpoint_from_a_profile_of_its_own(doc, tmp_path):
    (tmp_path / "cdk.tf.json").write_text(json.dumps(doc))
    path, diagnostics = overrides.write_override(tmp_path, URL)
    assert diagnostics == []
    (provider,) = json.loads(path.read_text())["provider"]["aws"]
    assert "endpoints" not in provider  # slow to validate (module doc)
    assert provider["profile"] == overrides.PROFILE
    (config,) = provider["shared_config_files"]
    assert config == str((tmp_path / overrides.CONFIG_FILE).resolve())
    text = (tmp_path / overrides.CONFIG_FILE).read_text()
    assert f"[profile {overrides.PROFILE}]\nendpoint_url = {URL}\n" in text
    assert provider["access_key"] == provider["secret_key"] == "test"
    for flag in ("skip_credentials_validation", "skip_requesting_account_id",
                 "skip_metadata_api_check", "s3_use_path_style"):
        assert provider[flag] is True
    # every type the example uses is one flowc knows the local cloud serves (else E606)
    for block in ("resource", "data"):
        for type_ in doc.get(block, {}):
            assert overrides.service_for(type_) is not None, type_


def test_backend_is_local_and_local_only_settings_are_applied(doc, tmp_path):
    doc = copy.deepcopy(doc)
    doc["terraform"]["backend"] = {"s3": {"bucket": "acme-state", "key": "reports.tfstate"}}
    override, _ = overrides.override_document(doc, tmp_path / overrides.CONFIG_FILE)
    assert override["terraform"]["backend"] == {"local": {"path": "terraform.tfstate"}}
    secrets = override["resource"]["aws_secretsmanager_secret"]
    assert set(secrets) == set(doc["resource"]["aws_secretsmanager_secret"])
    assert all(s == {"recovery_window_in_days": 0} for s in secrets.values())
    functions = override["resource"]["aws_lambda_function"]
    assert set(functions) == set(doc["resource"]["aws_lambda_function"])
    assert all(f["lifecycle"]["ignore_changes"] == ["logging_config"]
               for f in functions.values())


def test_aliased_providers_each_get_the_local_profile(tmp_path):
    doc = {"provider": {"aws": [{"region": "us-east-1"},
                                {"region": "eu-west-1", "alias": "eu"}]},
           "resource": {"aws_sqs_queue": {"q": {"name": "q"}}}}
    config = tmp_path / overrides.CONFIG_FILE
    override, _ = overrides.override_document(doc, config)
    providers = override["provider"]["aws"]
    assert [p.get("alias") for p in providers] == [None, "eu"]
    assert all(p["profile"] == overrides.PROFILE and p["shared_config_files"] == [str(config)]
               for p in providers)


def test_unknown_resource_type_is_E606_and_writes_nothing(tmp_path):
    doc = {"provider": {"aws": [{"region": "us-east-1"}]},
           "resource": {"aws_sqs_queue": {"q": {}}, "aws_widgetry_gadget": {"g": {}}}}
    (tmp_path / "cdk.tf.json").write_text(json.dumps(doc))
    path, diagnostics = overrides.write_override(tmp_path, URL)
    assert [d.code for d in diagnostics] == ["E606"]
    assert "aws_widgetry_gadget" in diagnostics[0].message and diagnostics[0].help
    assert not path.exists()


def _validated(doc: dict, tmp_path, endpoint: str) -> tuple:
    """`terraform init` + `validate` of `doc` with its override, by the real provider:
    (the working directory, Terraform's environment)."""
    if shutil.which("terraform") is None or not MIRROR.is_dir():
        pytest.skip("terraform or the provider mirror /opt/tf-plugins is absent on this machine")
    work = tmp_path / "aws"
    work.mkdir()
    (work / "cdk.tf.json").write_text(json.dumps(doc))
    path, diagnostics = overrides.write_override(work, endpoint)
    assert diagnostics == [] and path.name.endswith("_override.tf.json")
    env = terraform_environment(write_cli_config(tmp_path / "up", MIRROR))
    init = subprocess.run(["terraform", "init", "-input=false", "-no-color"],
                          cwd=work, env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stdout + init.stderr
    out = subprocess.run(["terraform", "validate", "-json", "-no-color"], cwd=work, env=env,
                         capture_output=True, text=True)
    report = json.loads(out.stdout)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)
    return work, env


def test_the_real_provider_accepts_the_override_and_calls_the_local_endpoint(doc, tmp_path):
    nobody = "http://127.0.0.1:9"  # the discard port: nothing answers there
    work, env = _validated(doc, tmp_path, nobody)
    # planning reads data.aws_caller_identity (STS): the call goes to the profile's endpoint
    out = subprocess.run(["terraform", "plan", "-input=false", "-no-color"], cwd=work,
                         env=env, capture_output=True, text=True)
    assert out.returncode == 1
    assert f'"{nobody}/": dial tcp' in out.stdout + out.stderr, out.stdout + out.stderr


def test_the_real_provider_accepts_the_services_override(tmp_path):
    # the ignore_changes names are attributes of the provider's schema (else invalid)
    _validated(json.loads(SERVICES_GOLDEN.read_text()), tmp_path, URL)


def test_subnets_the_local_cloud_lacks_are_replaced_and_https_is_http(tmp_path):
    doc = json.loads(SERVICES_GOLDEN.read_text())
    assert subnets.named_subnets(doc) == ["subnet-0abc", "subnet-0def"]
    local = {"subnet-0abc": "subnet-aaaa1111", "subnet-0def": "subnet-bbbb2222"}
    override, _ = overrides.override_document(doc, tmp_path / overrides.CONFIG_FILE, local)
    assert "subnet-0abc" not in json.dumps(override) and "subnet-0def" not in json.dumps(override)
    assert override["data"]["aws_subnet"]["service_subnet"] == {"id": "subnet-aaaa1111"}
    lb = override["resource"]["aws_lb"]["svc_api_lb"]
    assert lb == {"subnets": ["subnet-aaaa1111", "subnet-bbbb2222"]}
    blue = override["resource"]["aws_ecs_service"]["svc_api_blue"]
    (network,) = blue["network_configuration"]  # the whole block, the rest kept
    (compiled,) = doc["resource"]["aws_ecs_service"]["svc_api_blue"]["network_configuration"]
    assert network == {**compiled, "subnets": ["subnet-aaaa1111", "subnet-bbbb2222"]}
    assert blue["wait_for_steady_state"] is False and "lifecycle" in blue  # merged
    listener = override["resource"]["aws_lb_listener"]["svc_api_listener"]
    assert listener == {"protocol": "HTTP", "certificate_arn": None, "ssl_policy": None}
    assert "svc_api_http_redirect" not in override["resource"]["aws_lb_listener"]
    # nothing named, nothing replaced
    bare, _ = overrides.override_document(doc, tmp_path / overrides.CONFIG_FILE)
    assert "data" not in bare and "subnets" not in bare["resource"].get("aws_lb", {}).get(
        "svc_api_lb", {})
