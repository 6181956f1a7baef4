"""Services on every target, from the platform example (real front end): the objects each
target emits, golden files, and the same validators as tasks (provider schema,
kubernetes-validate; terraform validate and checkov run over every example elsewhere)."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml
from provider_schema import provider_schema
from target_apps import GOLDEN, ROOT, check_golden, compile_target, resources

from flowc.compiler.pipeline import load

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
