"""The Kubernetes target: CronJobs, as `kubernetes_*` Terraform resources and manifests.yaml.

flowc.targets.k8s.manifests describes the objects once, as Kubernetes API objects; this
module writes them twice from that one list:
- cdk.tf.json: each object converted to the hashicorp/kubernetes provider's resource
  (`kubernetes_cron_job_v1`, `kubernetes_service_account_v1`, `kubernetes_secret_v1`,
  `kubernetes_config_map_v1`; custom resources such as PrometheusRule as
  `kubernetes_manifest`), with `depends_on` so Terraform creates what a CronJob uses first;
- manifests.yaml: the same objects for `kubectl apply -f` and GitOps tools.
The conversion is mechanical (camelCase -> snake_case, list fields -> repeated blocks with
the provider's singular names, a few scalars the provider types as strings) and is checked
against the provider schema shipped in the cdktf bindings by the tests.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml

from flowc.compiler.ir import App, Service, Task
from flowc.diagnostics import Diagnostic
from flowc.targets.base import Builder, Stack, escape_literal
from flowc.targets.k8s import TARGET as K8S
from flowc.targets.k8s.manifests import CONFIGMAP_MAX_BYTES, TooLarge
from flowc.targets.k8s.services import describe
from flowc.targets.naming import Namer

PROVIDER_SOURCE = "hashicorp/kubernetes"
PROVIDER_VERSION = "~> 2.38.0"  # the schema tests/provider_schema.py checks against: 2.38.0
MANIFESTS_FILE = "manifests.yaml"

RESOURCE_TYPES = {
    "ServiceAccount": "kubernetes_service_account_v1",
    "Secret": "kubernetes_secret_v1",
    "ConfigMap": "kubernetes_config_map_v1",
    "CronJob": "kubernetes_cron_job_v1",
    "Deployment": "kubernetes_deployment_v1",
    "Service": "kubernetes_service_v1",
    "HorizontalPodAutoscaler": "kubernetes_horizontal_pod_autoscaler_v2",
    "PodDisruptionBudget": "kubernetes_pod_disruption_budget_v1",
    "Ingress": "kubernetes_ingress_v1",
    "NetworkPolicy": "kubernetes_network_policy_v1",
}
# Manifest list fields whose provider block name differs from the snake_case plural.
BLOCK_NAMES = {
    "containers": "container",
    "initContainers": "init_container",
    "volumes": "volume",
    "volumeMounts": "volume_mount",
    "timeZone": "timezone",
    "ports": "port",
    "metrics": "metric",
    "rules": "rule",
    "paths": "path",
}
# ... and where one kind's provider resource names it otherwise.
KIND_BLOCK_NAMES = {"NetworkPolicy": {"ports": "ports"}}
MAP_FIELDS = frozenset({"labels", "annotations", "data", "binaryData", "limits", "requests",
                        "nodeSelector", "stringData", "matchLabels"})
STRING_FIELDS = frozenset({"runAsUser", "runAsGroup", "fsGroup", "ttlSecondsAfterFinished",
                           "maxSurge", "maxUnavailable", "targetPort", "replicas"})
OCTAL_FIELDS = frozenset({"defaultMode", "mode"})


class K8sBuilder(Builder):
    name = "k8s"

    def check(self, app: App) -> list[Diagnostic]:
        """The code ConfigMaps must fit: described here (no cdktf) as `build` will."""
        return _code_problems(describe(app, Namer(app), ())[1])

    def build(self, app: App, stack: Stack) -> None:
        stack.backend = K8S.settings_of(app).backend
        stack.provider("kubernetes", PROVIDER_SOURCE, PROVIDER_VERSION, {})
        objects, problems = describe(app, stack.names, stack.shipped_exclude)
        stack.diagnostics.extend(_code_problems(problems))
        if problems:
            return
        addresses = {o.tf_id: f"{resource_type(o.manifest)}.{o.tf_id}" for o in objects}
        for obj in objects:
            type_, body = to_terraform(obj.manifest)
            if obj.depends_on:
                body["depends_on"] = [addresses[dep] for dep in obj.depends_on]
            if obj.manifest["kind"] == "Secret":  # values are set out of band (docs/targets/k8s.md)
                body["lifecycle"] = {"ignore_changes": ["data", "binary_data"]}
            if obj.ignore_changes:
                body["lifecycle"] = {"ignore_changes": obj.ignore_changes}
            stack.resource(type_, obj.tf_id, body)
        stack.output("namespace", K8S.settings_of(app).namespace,
                     description="namespace of every object")
        crons: dict[str, list[str]] = {t.name: [] for t in app.tasks_for("k8s")}
        for o in objects:
            if o.task is not None:
                crons[o.task].append(o.manifest["metadata"]["name"])
        for task_name, names in crons.items():
            stack.output(f"{task_name}_cron_jobs", names,
                         description=f"CronJobs running task {task_name}")
        for task_name, config_map in sorted(_code_config_maps(objects).items()):
            stack.output(f"{task_name}_code_config_map", config_map,
                         description=f"ConfigMap holding task {task_name}'s code, named by "
                         "its content: each release has its own, so a rollback is "
                         "re-applying an earlier release's output")
        for service in app.services_for("k8s"):
            _service_outputs(stack, app, objects, service)
        stack.add_file(MANIFESTS_FILE, manifests_yaml(app, [o.manifest for o in objects]))


def _code_problems(problems: list[tuple[Task | Service, Exception]]) -> list[Diagnostic]:
    out = []
    for task, exc in problems:
        what = f"{'service' if isinstance(task, Service) else 'task'} `{task.name}`"
        if isinstance(exc, TooLarge):
            out.append(Diagnostic(
                "E460", f"the code of {what} is too large for a ConfigMap "
                f"({exc}; at most {CONFIGMAP_MAX_BYTES // 1024} KiB)", task.span,
                "use an `image` task with the code built into the image, or list large "
                "files in .flowcignore"))
        else:
            out.append(Diagnostic(
                "E456", f"cannot package the code of {what} for Kubernetes: "
                f"{exc}", task.span, "check `requirements` and that the code directory exists"))
    return out


def _service_outputs(stack: Stack, app: App, objects: list[Any], service: Service) -> None:
    by_id = {o.tf_id: o.manifest for o in objects}
    name = by_id[f"deployment_{service.name}"]["metadata"]["name"]
    stack.output(f"{service.name}_deployment", name,
                 description=f"Deployment running service {service.name}")
    if service.port is not None:
        stack.output(f"{service.name}_url",
                     f"http://{name}.{K8S.settings_of(app).namespace}.svc.cluster.local:{service.port}",
                     description=f"in-cluster URL of service {service.name}")
    ingress = by_id.get(f"ingress_{service.name}")
    if ingress is not None and "host" in ingress["spec"]["rules"][0]:
        stack.output(f"{service.name}_public_url",
                     f"https://{ingress['spec']['rules'][0]['host']}",
                     description=f"public URL of service {service.name} (Ingress)")


def _code_config_maps(objects: list[Any]) -> dict[str, str]:
    """Task name -> the (content-addressed) code ConfigMap its CronJobs mount."""
    out: dict[str, str] = {}
    for obj in objects:
        if obj.task is None:
            continue
        pod = obj.manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                out[obj.task] = volume["configMap"]["name"]
    return out


def resource_type(manifest: dict[str, Any]) -> str:
    return RESOURCE_TYPES.get(manifest["kind"], "kubernetes_manifest")


@functools.cache
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _convert(key: str, value: Any, names: dict[str, str] = BLOCK_NAMES) -> tuple[str, Any]:
    """One manifest field -> (provider argument name, value)."""
    name = names.get(key, _snake(key))
    if key in MAP_FIELDS or (key == "selector" and "matchLabels" not in value):
        # a Service's selector is a plain map; a Deployment's holds matchLabels
        return name, {k: str(v) for k, v in value.items()}
    if key in STRING_FIELDS:
        return name, str(value)
    if key in OCTAL_FIELDS:
        return name, f"0{value:o}"
    if isinstance(value, dict):
        return name, _block(value, names)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return name, [_block(v, names) for v in value]
    return name, value


def _block(fields: dict[str, Any], names: dict[str, str] = BLOCK_NAMES) -> dict[str, Any]:
    return dict(_convert(k, v, names) for k, v in fields.items())


def _literal(value: Any) -> Any:
    """Every string as a Terraform literal (code or env values may contain `${`)."""
    if isinstance(value, str):
        return escape_literal(value)
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value


def to_terraform(manifest: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(resource type, body) of the kubernetes provider resource for one API object."""
    type_ = resource_type(manifest)
    if type_ == "kubernetes_manifest":
        return type_, {"manifest": _literal(manifest)}
    body = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
    names = {**BLOCK_NAMES, **KIND_BLOCK_NAMES.get(manifest["kind"], {})}
    return type_, _literal(_block(body, names))


# libyaml's emitter when PyYAML has it (wheels do): ~10x faster on large specs.
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Block style, multi-line strings as `|` literals, keys in the order written."""

    def ignore_aliases(self, data: Any) -> bool:  # shared dicts are written out in full
        return True


def _str(dumper: Any, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def manifests_yaml(app: App, manifests: list[dict[str, Any]]) -> bytes:
    """All objects as one multi-document YAML file, with a header saying where it came from."""
    header = (f"# Generated by flowc from {app.name}"
              f"{' (environment ' + app.environment + ')' if app.environment else ''}; "
              "do not edit.\n# The same objects as cdk.tf.json; apply with "
              "`kubectl apply -f manifests.yaml`.\n")
    body = yaml.dump_all(manifests, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                         explicit_start=True, width=1000)
    return (header + body).encode("utf-8")
