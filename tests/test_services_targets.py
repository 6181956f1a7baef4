"""Services on every target, from the platform example (real front end): the objects each
target emits, golden files, and the same validators as tasks (provider schema,
kubernetes-validate; terraform validate and checkov run over every example elsewhere)."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml
from provider_schema import provider_schema
from target_apps import GOLDEN, ROOT, check_golden, compile_target, resources

from flowc.compiler.pipeline import load, load_text

PLATFORM = ROOT / "examples" / "platform.flow"


@pytest.fixture(scope="module")
def platform():
    result = load(PLATFORM, "prod")
    assert result.ok, [d.message for d in result.diagnostics]
    return result.app


@pytest.fixture(scope="module")
def k8s(platform, tmp_path_factory):
    out = tmp_path_factory.mktemp("platform-k8s")
    diagnostics, doc = compile_target(platform, "k8s", out)
    assert not [d for d in diagnostics if d.is_error], diagnostics
    text = (out / "k8s" / "manifests.yaml").read_bytes()
    return doc, list(yaml.safe_load_all(text)), text


def by_kind(manifests, kind):
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def test_k8s_deployments_probes_hardening_and_scaling(k8s, platform):
    doc, manifests, text = k8s
    deployments = by_kind(manifests, "Deployment")
    assert sorted(deployments) == sorted(f"airquality-prod-{s.name}"
                                         for s in platform.services_for("k8s"))
    api = deployments["airquality-prod-api"]
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["limits"] == {"cpu": "0.5", "memory": "1024Mi"}
    assert container["resources"]["requests"] == container["resources"]["limits"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    worker = deployments["airquality-prod-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert "readinessProbe" not in worker and "ports" not in worker  # a worker
    hpas = by_kind(manifests, "HorizontalPodAutoscaler")
    assert hpas["airquality-prod-api"]["apiVersion"] == "autoscaling/v2"
    assert (hpas["airquality-prod-api"]["spec"]["minReplicas"],
            hpas["airquality-prod-api"]["spec"]["maxReplicas"]) == (3, 10)
    metric = hpas["airquality-prod-worker"]["spec"]["metrics"][0]["resource"]
    assert metric == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 75}}
    assert "airquality-prod-dashboard" not in hpas  # fixed replicas
    assert set(by_kind(manifests, "PodDisruptionBudget")) == set(deployments)
    policies = by_kind(manifests, "NetworkPolicy")
    assert policies["airquality-prod-worker"]["spec"]["ingress"] == []  # admits nothing
    assert policies["airquality-prod-api"]["spec"]["ingress"] == [
        {"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert set(by_kind(manifests, "Service")) == {
        "airquality-prod-api", "airquality-prod-dashboard", "airquality-prod-frontend",
        "airquality-prod-status"}
    # Terraform lets the HPA own the replica count
    tf = resources(doc, "kubernetes_deployment_v1")
    assert tf["deployment_api"]["lifecycle"] == {"ignore_changes": ["spec[0].replicas"]}
    assert "lifecycle" not in tf["deployment_dashboard"]


def test_k8s_ingress_when_public(k8s):
    _, manifests, _ = k8s
    ingresses = by_kind(manifests, "Ingress")
    assert set(ingresses) == {"airquality-prod-api", "airquality-prod-dashboard",
                              "airquality-prod-frontend"}  # status is not public
    api = ingresses["airquality-prod-api"]["spec"]
    assert api["ingressClassName"] == "nginx"
    assert api["rules"][0]["host"] == "api.airquality.acme.example"
    assert api["tls"] == [{"hosts": ["api.airquality.acme.example"],
                           "secretName": "airquality-prod-api-tls"}]
    backend = api["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "airquality-prod-api", "port": {"number": 8000}}


def test_k8s_python_service_runs_the_shipped_server(k8s):
    _, manifests, _ = k8s
    status = by_kind(manifests, "Deployment")["airquality-prod-status"]
    container = status["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["python", "-c"]
    assert container["command"][3:] == ["/code", "airquality.status:app", "8080"]
    assert container["readinessProbe"]["tcpSocket"] == {"port": "http"}  # no health path


def test_k8s_output_validates_and_matches_golden(k8s):
    doc, manifests, text = k8s
    assert provider_schema("kubernetes").check_document(doc) == []
    for manifest in manifests:
        kubernetes_validate.validate(manifest, "1.30.0", strict=True)
    check_golden(text, GOLDEN / "k8s" / "platform-prod.manifests.yaml")


@pytest.fixture(scope="module")
def gcp(platform, tmp_path_factory):
    out = tmp_path_factory.mktemp("platform-gcp")
    diagnostics, doc = compile_target(platform, "gcp", out)
    assert not [d for d in diagnostics if d.is_error], diagnostics
    return doc, (out / "gcp" / "cdk.tf.json").read_bytes()


def test_gcp_cloud_run_services_functions_and_invokers(gcp):
    doc, _ = gcp
    runs = resources(doc, "google_cloud_run_v2_service")
    assert set(runs) == {"run_service_dashboard", "run_service_frontend"}  # api: aws, k8s
    frontend = runs["run_service_frontend"]["template"]
    assert frontend["scaling"] == {"min_instance_count": 2, "max_instance_count": 4}
    container = frontend["containers"][0]
    assert container["ports"] == {"name": "http1", "container_port": 8080}
    assert container["startup_probe"]["http_get"] == {"path": "/"}
    assert container["resources"]["limits"]["cpu"] == "1"  # Cloud Run's least for a service
    assert frontend["service_account"] == "${google_service_account.service_sa_frontend.email}"
    invokers = resources(doc, "google_cloud_run_v2_service_iam_member")
    assert invokers["invoker_frontend__0"]["member"] == "allUsers"  # public
    status_members = {v["member"] for k, v in invokers.items() if k.startswith("invoker_status")}
    assert "allUsers" not in status_members and all(
        m.startswith("serviceAccount:") for m in status_members)  # callers must authenticate
    function = resources(doc, "google_cloudfunctions2_function")["function_svc_status"]
    assert function["build_config"]["entry_point"] == "flowc_service"
    assert function["service_config"]["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    assert function["service_config"]["environment_variables"]["FLOWC_APP_TARGET"] == (
        "airquality.status:app")


def test_gcp_output_validates_and_matches_golden(gcp):
    doc, text = gcp
    assert provider_schema("google").check_document(doc) == []
    check_golden(text, GOLDEN / "gcp" / "platform-prod.cdk.tf.json")


def test_gcp_worker_is_a_worker_pool_with_its_secrets(tmp_path):
    spec = tmp_path / "app.flow"
    spec.write_text('secret broker\nservice worker {\n  image = "acme/worker:1"\n'
                    '  replicas = 3\n  env { BROKER = secret.broker }\n  targets = [gcp]\n}\n')
    result = load(spec)
    assert result.ok
    _, doc = compile_target(result.app, "gcp", tmp_path / "out")
    assert provider_schema("google").check_document(doc) == []
    pool = resources(doc, "google_cloud_run_v2_worker_pool")["worker_pool_worker"]
    assert pool["scaling"] == {"scaling_mode": "MANUAL", "manual_instance_count": 3}
    env = pool["template"]["containers"][0]["env"]
    assert {"name": "BROKER", "value_source": {"secret_key_ref": {
        "secret": "${google_secret_manager_secret.secret_broker.secret_id}",
        "version": "latest"}}} in env
    access = resources(doc, "google_secret_manager_secret_iam_member")
    assert access["access_worker__broker"]["member"] == (
        "serviceAccount:${google_service_account.service_sa_worker.email}")
    assert not resources(doc, "google_cloud_run_v2_service_iam_member")  # nothing to invoke


@pytest.fixture(scope="module")
def aws(platform, tmp_path_factory):
    out = tmp_path_factory.mktemp("platform-aws")
    diagnostics, doc = compile_target(platform, "aws", out)
    assert not [d for d in diagnostics if d.is_error], diagnostics
    return doc, out / "aws"


def test_aws_ecs_services_behind_load_balancers(aws):
    doc, _ = aws
    ecs = resources(doc, "aws_ecs_service")
    assert set(ecs) == {"svc_api_blue", "svc_api_green", "svc_worker", "svc_dashboard",
                        "svc_frontend"}
    api = ecs["svc_api_blue"]
    assert api["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
    assert api["load_balancer"][0]["container_port"] == 8000
    assert api["network_configuration"][0]["subnets"] == ["subnet-0abc", "subnet-0def"]
    # both colours run (a rollback is a weight change) and the traffic waits for them
    assert ecs["svc_api_green"]["desired_count"] == ecs["svc_api_blue"]["desired_count"] == 3
    assert ecs["svc_api_green"]["wait_for_steady_state"] is True
    assert ecs["svc_api_green"]["task_definition"] == (
        "${aws_ecs_task_definition.svc_api_task_green.arn}")
    assert "load_balancer" not in ecs["svc_worker"]  # a worker: no load balancer
    groups = resources(doc, "aws_lb_target_group")
    assert groups["svc_api_tg_blue"]["health_check"][0]["path"] == "/health"
    assert groups["svc_dashboard_tg"]["health_check"][0]["path"] == "/_stcore/health"
    listeners = resources(doc, "aws_lb_listener")
    api_listener = listeners["svc_api_listener"]
    assert api_listener["protocol"] == "HTTPS" and api_listener["certificate_arn"].startswith(
        "arn:aws:acm:")
    rule = resources(doc, "aws_lb_listener_rule")["svc_api_traffic"]
    weights = rule["action"][0]["forward"][0]["target_group"]
    assert [w["weight"] for w in weights] == [100, 0]  # blue/green: one rule, by weight
    assert rule["depends_on"] == ["aws_ecs_service.svc_api_blue", "aws_ecs_service.svc_api_green"]
    assert listeners["svc_api_http_redirect"]["default_action"][0]["type"] == "redirect"
    lbs = resources(doc, "aws_lb")
    assert lbs["svc_api_lb"]["internal"] is False and lbs["svc_api_lb"][
        "drop_invalid_header_fields"] is True
    scaling = resources(doc, "aws_appautoscaling_target")
    assert (scaling["svc_api_scaling_blue"]["min_capacity"],
            scaling["svc_api_scaling_blue"]["max_capacity"]) == (3, 10)
    policy = resources(doc, "aws_appautoscaling_policy")["svc_worker_scale_policy"]
    config = policy["target_tracking_scaling_policy_configuration"][0]
    assert config["target_value"] == 75.0
    assert config["predefined_metric_specification"][0]["predefined_metric_type"] == (
        "ECSServiceAverageCPUUtilization")
    ingress = resources(doc, "aws_vpc_security_group_ingress_rule")["svc_api_from_lb"]
    assert ingress["referenced_security_group_id"] == "${aws_security_group.svc_api_lb_sg.id}"


def test_aws_services_without_subnets_run_in_the_default_vpc(tmp_path):
    """No `aws { subnets }`: the default VPC's subnets and a public IP, W403 per image
    service; the output stays valid for the real provider and checkov-clean (prod without
    its subnets: the certificate keeps the plain-HTTP checks, W230's case, out)."""
    from aws_support import checkov, terraform_validate

    text = PLATFORM.read_text()
    line = next(ln for ln in text.splitlines(keepends=True) if "subnets" in ln)
    result = load_text(text.replace(line, ""), str(PLATFORM), "prod")
    assert result.ok, [d.message for d in result.diagnostics]
    diagnostics, doc = compile_target(result.app, "aws", tmp_path / "out")
    warned = sorted(d.message.split("`")[1] for d in diagnostics if d.code == "W403")
    assert warned == sorted(s.name for s in result.app.services_for("aws")
                            if s.handler.kind == "image")
    subnets = "${data.aws_subnets.default_subnets.ids}"
    for name, ecs in resources(doc, "aws_ecs_service").items():
        network = ecs["network_configuration"][0]
        assert (network["subnets"], network["assign_public_ip"]) == (subnets, True), name
    assert {lb["subnets"] for lb in resources(doc, "aws_lb").values()} == {subnets}
    assert set(doc["data"]["aws_vpc"]) == {"default_vpc"}  # no subnet to look the VPC up by
    assert doc["data"]["aws_vpc"]["default_vpc"]["default"] is True
    groups = resources(doc, "aws_lb_target_group").values()
    assert {g["vpc_id"] for g in groups} == {"${data.aws_vpc.default_vpc.id}"}
    report = terraform_validate(tmp_path / "out" / "aws", tmp_path)
    assert report["valid"] and report["warning_count"] == 0, report["diagnostics"]
    failed = [(c["check_id"], c["resource"])
              for c in checkov(tmp_path / "out" / "aws")["results"]["failed_checks"]]
    assert failed == [], failed


def test_aws_alarms_and_logs(aws):
    doc, _ = aws
    alarms = resources(doc, "aws_cloudwatch_metric_alarm")
    rate = alarms["svc_api_alarm_0"]
    assert rate["threshold"] == 5.0
    assert rate["metric_query"][2]["expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    assert alarms["svc_api_alarm_1"]["extended_statistic"] == "p95"
    # api has two colours: its alarms watch both, whichever is live
    assert rate["metric_query"][0]["metric"][0]["dimensions"] == {
        "LoadBalancer": "${aws_lb.svc_api_lb.arn_suffix}"}
    unhealthy = alarms["svc_api_alarm_2"]["metric_query"]
    assert [q["metric"][0]["metric_name"] for q in unhealthy[:2]] == ["UnHealthyHostCount"] * 2
    assert [q["metric"][0]["dimensions"]["TargetGroup"] for q in unhealthy[:2]] == [
        "${aws_lb_target_group.svc_api_tg_blue.arn_suffix}",
        "${aws_lb_target_group.svc_api_tg_green.arn_suffix}"]
    assert unhealthy[2]["expression"] == "SUM([m_blue, m_green])"
    assert alarms["svc_worker_alarm_0"]["metric_name"] == "CPUUtilization"
    assert alarms["svc_worker_alarm_1"]["metric_name"] == "MemoryUtilization"
    logs = resources(doc, "aws_cloudwatch_log_group")
    assert logs["svc_api_logs"]["kms_key_id"] == "${aws_kms_key.kms_key.arn}"


def test_aws_python_service_is_a_lambda_behind_an_http_api(aws):
    import zipfile

    doc, out = aws
    fn = resources(doc, "aws_lambda_function")["svc_status_function"]
    assert fn["handler"] == "flowc_service_handler.handler"
    assert fn["reserved_concurrent_executions"] == 10
    route = resources(doc, "aws_apigatewayv2_route")["svc_status_route"]
    assert route["route_key"] == "$default" and route["authorization_type"] == "AWS_IAM"
    integration = resources(doc, "aws_apigatewayv2_integration")["svc_status_integration"]
    assert integration["payload_format_version"] == "2.0"
    # published versions behind the alias `live`, which the API and its permission target
    assert fn["publish"] is True
    alias = resources(doc, "aws_lambda_alias")["svc_status_alias"]
    assert alias["name"] == "live"
    assert alias["function_version"] == "${aws_lambda_function.svc_status_function.version}"
    assert integration["integration_uri"] == "${aws_lambda_alias.svc_status_alias.invoke_arn}"
    permission = resources(doc, "aws_lambda_permission")["svc_status_invoke"]
    assert permission["qualifier"] == "${aws_lambda_alias.svc_status_alias.name}"
    zips = [z for z in (out / "assets").glob("*.zip")
            if "flowc_service_handler.py" in zipfile.ZipFile(z).namelist()]
    assert len(zips) == 1
    names = zipfile.ZipFile(zips[0]).namelist()
    assert "mangum/__init__.py" in names and "a2wsgi/__init__.py" in names
    assert "airquality/status.py" in names


def test_aws_output_is_valid_clean_and_matches_golden(aws, tmp_path):
    from tests.aws_support import checkov, terraform_validate

    doc, out = aws
    report = terraform_validate(out, tmp_path)
    assert report["valid"] and report["warning_count"] == 0, report["diagnostics"]
    findings = checkov(out)
    assert [(c["check_id"], c["resource"]) for c in findings["results"]["failed_checks"]] == []
    check_golden((out / "cdk.tf.json").read_bytes(), GOLDEN / "aws" / "platform-prod.cdk.tf.json")
