"""Kubernetes objects for services (SPEC §5), on the same Describer as tasks.

Per service: a ServiceAccount (no token), a Deployment (rolling update that never goes
below the wanted replicas: maxUnavailable 0; the CronJobs' container hardening;
readiness and liveness probes on `health`; requests = limits), and when it has a port a
ClusterIP Service; a HorizontalPodAutoscaler (autoscaling/v2) on cpu or memory
utilisation when `replicas` is a range; a PodDisruptionBudget (at most one replica
voluntarily evicted at a time); an Ingress when `public` (class and host from the
environment's `k8s { ingress_class ingress_host }`: the service answers on
`NAME.INGRESS_HOST` with TLS from the Secret `NAME-tls`, which cert-manager or the team
fills); a NetworkPolicy admitting connections on the service's port only (none for a
worker). Python services run `serve.py` (the emulator's server: ASGI under uvicorn, which
must then be in `requirements`; WSGI under wsgiref) from the code ConfigMap in
`k8s { python_image }`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App, ImageHandler, PythonHandler, Service, Task
from flowc.emulator.services.instance import SERVE
from flowc.targets.base import standard_tags
from flowc.targets.k8s import TARGET as K8S
from flowc.targets.k8s import operations as ops
from flowc.targets.k8s.manifests import (
    CODE_DIR,
    Describer,
    K8sObject,
    TooLarge,
    _meta,
)
from flowc.targets.naming import DNS, DNS_LABEL_LIMIT, Namer
from flowc.targets.packaging import PackagingError

PORT_NAME = "http"
PROBE = {"initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 3}
LIVENESS_FAILURES = 3
READINESS_FAILURES = 2


def describe(app: App, names: Namer, exclude: Sequence[Path]
             ) -> tuple[list[K8sObject], list[tuple[Task | Service, Exception]]]:
    """Every object for the app's k8s tasks and services (one Describer, so they share
    Secrets and code ConfigMaps), and (task or service, error) for code that cannot ship."""
    d = Describer(app, names, exclude)
    problems: list[tuple[Task | Service, Exception]] = []
    for t in app.tasks_for("k8s"):
        try:
            d.task(t)
        except (TooLarge, PackagingError) as exc:
            problems.append((t, exc))
    for service in app.services_for("k8s"):
        try:
            describe_service(d, service)
        except (TooLarge, PackagingError) as exc:
            problems.append((service, exc))
    return d.objects, problems


def labels(d: Describer, service: Service) -> dict[str, str]:
    return {**standard_tags(d.app), "service": service.name[:63]}


def describe_service(d: Describer, service: Service) -> None:
    name = d.names.name(service.name, style=DNS, limit=DNS_LABEL_LIMIT, kind="service")
    tags = labels(d, service)
    selector = {"app": tags["app"], "environment": tags["environment"],
                "service": tags["service"]}
    sa = K8sObject({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": _meta(name, d.ns, tags), "automountServiceAccountToken": False},
                   f"service_account_svc_{service.name}")
    d.objects.append(sa)
    deps = [sa.tf_id] + [d.secret(s).tf_id for s in service.secrets]
    pod = _pod(d, service, name, deps)
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, d.ns, tags),
        "spec": {
            "replicas": service.scaling.min_replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {"metadata": {"labels": {**tags, **selector}}, "spec": pod},
        },
    }  # fmt: skip
    # The HPA owns the replica count once it runs; Terraform must not reset it.
    ignore = ["spec[0].replicas"] if service.scaling.autoscaled else []
    d.objects.append(K8sObject(deployment, f"deployment_{service.name}", deps,
                               ignore_changes=ignore))
    if service.port is not None:
        d.objects.append(K8sObject({
            "apiVersion": "v1", "kind": "Service", "metadata": _meta(name, d.ns, tags),
            "spec": {"type": "ClusterIP", "selector": selector,
                     "ports": [{"name": PORT_NAME, "port": service.port,
                                "targetPort": PORT_NAME, "protocol": "TCP"}]},
        }, f"service_{service.name}", [f"deployment_{service.name}"]))  # fmt: skip
    if service.scaling.autoscaled:
        d.objects.append(K8sObject(_hpa(service, name, d.ns, tags),
                                   f"hpa_{service.name}", [f"deployment_{service.name}"]))
    d.objects.append(K8sObject({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": _meta(name, d.ns, tags),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
    }, f"pdb_{service.name}"))  # fmt: skip
    d.objects.append(_network_policy(service, name, d.ns, tags, selector))
    if service.public and service.port is not None:
        d.objects.append(_ingress(d, service, name, tags))


def _network_policy(service: Service, name: str, ns: str, tags: dict[str, str],
                    selector: dict[str, str]) -> K8sObject:
    """Ingress to the pods only on the service's port (from anywhere in the cluster and the
    ingress controller); a worker accepts no connection. Egress is left open."""
    ingress = [] if service.port is None else [{"ports": [{"port": PORT_NAME,
                                                            "protocol": "TCP"}]}]
    return K8sObject({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": _meta(name, ns, tags),
        "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"],
                 "ingress": ingress},
    }, f"network_policy_{service.name}")  # fmt: skip


def _pod(d: Describer, service: Service, name: str, deps: list[str]) -> dict[str, Any]:
    handler = service.handler
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    env: list[dict[str, Any]] = [{"name": "FLOWC_SERVICE", "value": service.name}]
    init: list[dict[str, Any]] = []
    if isinstance(handler, PythonHandler):
        image = ops.k8s_python_image(K8S.settings_of(d.app).python_image)
        main = d.container(service, "service", image)
        main["command"] = ["python", "-c", SERVE.read_text(encoding="utf-8"), CODE_DIR,
                           handler.entrypoint, *([str(service.port)] if service.port else [])]
        d.python_code(service, main, env, volumes, init, deps)
    else:
        assert isinstance(handler, ImageHandler)
        main = d.container(service, "service", handler.image)
        if handler.command:
            main["args"] = list(handler.command)
    if service.port is not None:
        main["ports"] = [{"name": PORT_NAME, "containerPort": service.port, "protocol": "TCP"}]
        env.append({"name": "PORT", "value": str(service.port)})
        check = ({"httpGet": {"path": service.health, "port": PORT_NAME}} if service.health
                 else {"tcpSocket": {"port": PORT_NAME}})
        main["readinessProbe"] = {**check, **PROBE, "failureThreshold": READINESS_FAILURES}
        main["livenessProbe"] = {**check, **PROBE, "initialDelaySeconds": 15,
                                 "failureThreshold": LIVENESS_FAILURES}
    main["env"] = env + d.env_vars(service)
    spec: dict[str, Any] = {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "securityContext": d.pod_security(),
    }
    if init:
        spec["initContainers"] = init
    spec["containers"] = [main]
    spec["volumes"] = volumes
    return spec


def _hpa(service: Service, name: str, ns: str, tags: dict[str, str]) -> dict[str, Any]:
    scaling = service.scaling
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(name, ns, tags),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [{"type": "Resource", "resource": {
                "name": scaling.metric,
                "target": {"type": "Utilization",
                           "averageUtilization": round(scaling.target_percent)}}}],
        },
    }  # fmt: skip


def _ingress(d: Describer, service: Service, name: str, tags: dict[str, str]) -> K8sObject:
    k8s = K8S.settings_of(d.app)
    path = {"path": "/", "pathType": "Prefix", "backend": {"service": {
        "name": name, "port": {"number": service.port}}}}
    rule: dict[str, Any] = {"http": {"paths": [path]}}
    spec: dict[str, Any] = {}
    if k8s.ingress_class:
        spec["ingressClassName"] = k8s.ingress_class
    if k8s.ingress_host:
        host = f"{service.name.replace('_', '-')}.{k8s.ingress_host}"
        rule = {"host": host, **rule}
        spec["tls"] = [{"hosts": [host], "secretName": f"{name}-tls"}]
    spec["rules"] = [rule]
    return K8sObject({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                      "metadata": _meta(name, d.ns, tags), "spec": spec},
                     f"ingress_{service.name}", [f"service_{service.name}"])
