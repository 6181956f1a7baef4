"""Kubernetes: the one description of what a task needs, as plain API objects.

`describe(app, names, exclude)` returns `K8sObject`s (manifest + Terraform id + deps);
flowc.targets.k8s turns the same list into `kubernetes_*` resources for cdk.tf.json and
into manifests.yaml, so the two can never drift. Per task:
- ServiceAccount (no token automount: tasks do not call the Kubernetes API);
- python tasks: an immutable ConfigMap holding the code (name = content hash, so a
  change makes a new ConfigMap and the CronJob rolls to it), mounted read-only at /code
  in the `k8s { python_image }` setting; requirements are installed by an init container with
  `pip --target` into an emptyDir (needs a package index at run time; for none, use an
  image task with dependencies baked in);
- one CronJob per schedule expression: timeZone, concurrencyPolicy Forbid,
  startingDeadlineSeconds, history limits (failed Jobs kept for `on_failure =
  dead_letter`), backoffLimit = retries, activeDeadlineSeconds = timeout per attempt
  (pod) and for all attempts with back-off (job), requests = limits, and a hardened
  security context (non-root uid 65532, read-only root fs with an emptyDir at /tmp, no
  privilege escalation, all capabilities dropped, seccomp RuntimeDefault);
- secrets: one Secret per flowc secret (key = the secret's name), read with secretKeyRef;
- alerts: a PrometheusRule (kube-state-metrics series) when `k8s { prometheus = true }`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.compiler.ir import Alert, App, ImageHandler, PythonHandler, SecretRef, Service, Task
from flowc.targets.base import standard_tags
from flowc.targets.k8s import TARGET as K8S
from flowc.targets.k8s import operations as ops
from flowc.targets.naming import CRONJOB_LIMIT, DNS, DNS_LABEL_LIMIT, Namer, schedule_keys
from flowc.targets.operations import input_env
from flowc.targets.sources import task_sources
from flowc.targets.units import cpu_quantity, memory_quantity

UID = 65532  # a high, unprivileged uid (the "nonroot" user of distroless images)
CODE_DIR = "/code"
DEPS_DIR = "/deps"
REQUIREMENTS_KEY = "flowc-requirements.txt"
CONFIGMAP_MAX_BYTES = 1024 * 1024  # the API server rejects larger ConfigMaps
SUCCESSFUL_HISTORY = 3
FAILED_HISTORY = 1
FAILED_HISTORY_DEAD_LETTER = 10
DEFAULT_CPU_REQUEST = "100m"
DEFAULT_CPU_LIMIT = "1"
RUNNER = (
    "import importlib, os, sys; m, _, f = os.environ['FLOWC_HANDLER'].partition(':'); "
    "r = getattr(importlib.import_module(m), f)(); "
    "sys.exit(r if isinstance(r, int) and not isinstance(r, bool) else 0)"
)


@dataclass
class K8sObject:
    manifest: dict[str, Any]  # apiVersion, kind, metadata, ...
    tf_id: str  # Terraform resource name
    depends_on: list[str] = field(default_factory=list)  # tf_ids (Terraform only)
    task: str | None = None  # the task a CronJob runs
    ignore_changes: list[str] = field(default_factory=list)  # Terraform lifecycle (only)


class TooLarge(Exception):
    """A python task's code does not fit in a ConfigMap."""


def _meta(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels}


def job_deadline(task: Task) -> int:
    """Seconds a Job may run: every attempt's timeout, the back-off between them, slack."""
    backoff = sum(min(10 * 2**i, 360) for i in range(task.retries))
    return (task.timeout_s + 60) * (task.retries + 1) + backoff


class Describer:
    def __init__(self, app: App, names: Namer, exclude: Sequence[Path]):
        self.app = app
        self.names = names
        self.exclude = tuple(exclude)  # paths never shipped (the output directory...)
        self.ns = K8S.settings_of(app).namespace
        self.objects: list[K8sObject] = []
        self.secrets: dict[str, K8sObject] = {}
        self.configmaps: dict[str, K8sObject] = {}
        self._code: dict[tuple, tuple[K8sObject, list[dict[str, str]]]] = {}

    # -- shared objects ---------------------------------------------------------------------
    def secret(self, name: str) -> K8sObject:
        if name not in self.secrets:
            meta = _meta(self.names.name(name, style=DNS, limit=DNS_LABEL_LIMIT, kind="secret"),
                         self.ns, standard_tags(self.app))
            obj = K8sObject({"apiVersion": "v1", "kind": "Secret", "metadata": meta,
                             "type": "Opaque"}, f"secret_{name}")
            self.secrets[name] = obj
            self.objects.append(obj)
        return self.secrets[name]

    def code(self, task: Task) -> tuple[K8sObject, list[dict[str, str]]]:
        """The ConfigMap with the task's code, and the volume items mapping keys to paths."""
        key = (task.code_dir, task.requirements, task.layers)
        if key not in self._code:
            self._code[key] = self._configmap(task)
        return self._code[key]

    def _configmap(self, task: Task) -> tuple[K8sObject, list[dict[str, str]]]:
        files = task_sources(self.app, task, self.exclude, REQUIREMENTS_KEY)
        size = sum(len(v) for v in files.values())
        if size > CONFIGMAP_MAX_BYTES:
            raise TooLarge(f"{size // 1024} KiB of code")
        data: dict[str, str] = {}
        binary: dict[str, str] = {}
        items: list[dict[str, str]] = []
        used: set[str] = set()
        for path in sorted(files):
            stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.replace("/", "."))
            key = stem = stem.lstrip(".") or "file"
            n = 1
            while key in used:  # "a/b.py" and "a.b.py" both want "a.b.py"
                n += 1
                key = f"{stem}-{n}"
            used.add(key)
            items.append({"key": key, "path": path})
            try:
                data[key] = files[path].decode("utf-8")
            except UnicodeDecodeError:
                binary[key] = base64.b64encode(files[path]).decode("ascii")
        digest = hashlib.sha256(repr((sorted(data.items()), sorted(binary.items()),
                                      items)).encode()).hexdigest()[:10]
        if digest not in self.configmaps:
            name = self.names.name("code", digest, style=DNS, limit=DNS_LABEL_LIMIT,
                                   kind="configmap")
            body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                                    "metadata": _meta(name, self.ns, standard_tags(self.app)),
                                    "immutable": True, "data": data}
            if binary:
                body["binaryData"] = binary
            self.configmaps[digest] = K8sObject(body, f"code_{digest}")
            self.objects.append(self.configmaps[digest])
        return self.configmaps[digest], items

    # -- per task ---------------------------------------------------------------------------
    def task(self, task: Task) -> None:
        labels = standard_tags(self.app, task)
        sa_name = self.names.name(task.name, style=DNS, limit=DNS_LABEL_LIMIT,
                                  kind="serviceaccount")
        sa = K8sObject({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": _meta(sa_name, self.ns, labels),
                        "automountServiceAccountToken": False}, f"service_account_{task.name}")
        self.objects.append(sa)
        deps = [sa.tf_id] + [self.secret(s).tf_id for s in task.secrets]
        pod = self.pod_spec(task, sa_name, deps)
        cron_names = []
        for sched, key in schedule_keys(task, "k8s"):
            tf_id = f"cron_job_{task.name}__{key}"
            name = self.names.name(task.name, tail=(key,), style=DNS, limit=CRONJOB_LIMIT,
                                   kind="cronjob")
            cron_names.append(name)
            spec = {
                "schedule": sched.expression,
                "timeZone": sched.timezone,
                **ops.k8s_cron_fields(task),
                "successfulJobsHistoryLimit": SUCCESSFUL_HISTORY,
                "failedJobsHistoryLimit": FAILED_HISTORY_DEAD_LETTER
                if task.on_failure == "dead_letter" else FAILED_HISTORY,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "backoffLimit": task.retries,
                        "activeDeadlineSeconds": ops.k8s_job_deadline(task, job_deadline(task)),
                        "template": {"metadata": {"labels": labels}, "spec": pod},
                    },
                },
            }
            self.objects.append(K8sObject(
                {"apiVersion": "batch/v1", "kind": "CronJob",
                 "metadata": _meta(name, self.ns, labels), "spec": spec}, tf_id, list(deps),
                task.name))
        if task.alerts and K8S.settings_of(self.app).prometheus and cron_names:
            self.objects.append(self.prometheus_rule(task, cron_names, labels))

    def container(self, task: Task, name: str, image: str) -> dict[str, Any]:
        cpu = cpu_quantity(task.cpu) if task.cpu is not None else None
        memory = memory_quantity(task.memory_mib)
        return {
            "name": name,
            "image": image,
            "imagePullPolicy": "Always",
            "resources": {
                "requests": {"cpu": cpu or DEFAULT_CPU_REQUEST, "memory": memory},
                "limits": {"cpu": cpu or DEFAULT_CPU_LIMIT, "memory": memory},
            },
            "securityContext": {
                "allowPrivilegeEscalation": False,
                "privileged": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "runAsUser": UID,
                "runAsGroup": UID,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }

    def python_code(self, unit: Task | Service, main: dict[str, Any], env: list[dict[str, Any]],
                    volumes: list[dict[str, Any]], init: list[dict[str, Any]],
                    deps: list[str]) -> None:
        """Mount the unit's code ConfigMap at /code in `main` (adding to its env, the pod's
        volumes and init containers): requirements go to /deps by a pip init container."""
        configmap, items = self.code(unit)
        deps.append(configmap.tf_id)
        has_requirements = any(i["path"] == REQUIREMENTS_KEY for i in items)
        env += [
            {"name": "PYTHONPATH",
             "value": f"{CODE_DIR}:{DEPS_DIR}" if has_requirements else CODE_DIR},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
            {"name": "HOME", "value": "/tmp"},
        ]
        main["workingDir"] = CODE_DIR
        code_mount = {"name": "code", "mountPath": CODE_DIR, "readOnly": True}
        main["volumeMounts"].append(code_mount)
        volumes.append({"name": "code", "configMap": {
            "name": configmap.manifest["metadata"]["name"], "defaultMode": 0o444,
            "items": items}})
        if has_requirements:
            deps_mount = {"name": "deps", "mountPath": DEPS_DIR}
            pip = self.container(unit, "install-requirements", main["image"])  # same python
            pip["command"] = ["python", "-m", "pip", "install", "--no-cache-dir",
                              "--disable-pip-version-check", "--target", DEPS_DIR,
                              "-r", f"{CODE_DIR}/{REQUIREMENTS_KEY}"]
            pip["env"] = [{"name": "HOME", "value": "/tmp"}]
            pip["volumeMounts"] += [code_mount, deps_mount]
            init.append(pip)
            main["volumeMounts"].append(dict(deps_mount, readOnly=True))
            volumes.append({"name": "deps", "emptyDir": {}})

    def pod_security(self) -> dict[str, Any]:
        return {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        }

    def env_vars(self, unit: Task | Service) -> list[dict[str, Any]]:
        """The spec's `env`: plain values, and secrets read from their Secret."""
        out: list[dict[str, Any]] = []
        for var in unit.env:
            if isinstance(var.value, SecretRef):
                secret = self.secret(var.value.secret).manifest["metadata"]["name"]
                out.append({"name": var.name, "valueFrom": {"secretKeyRef": {
                    "name": secret, "key": var.value.secret}}})
            else:
                out.append({"name": var.name, "value": var.value})
        return out

    def pod_spec(self, task: Task, sa_name: str, deps: list[str]) -> dict[str, Any]:
        env: list[dict[str, Any]] = [{"name": "FLOWC_TASK", "value": task.name}] + [
            {"name": k, "value": v} for k, v in input_env(task).items()]
        volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
        init: list[dict[str, Any]] = []
        handler = task.handler
        if isinstance(handler, PythonHandler):
            image = ops.k8s_python_image(K8S.settings_of(self.app).python_image, task)
            main = self.container(task, "task", image)
            env.append({"name": "FLOWC_HANDLER", "value": handler.entrypoint})
            main["command"] = ["python", "-c", RUNNER]
            self.python_code(task, main, env, volumes, init, deps)
        else:
            assert isinstance(handler, ImageHandler)
            main = self.container(task, "task", handler.image)
            if handler.command:
                main["args"] = list(handler.command)
        main["env"] = env + self.env_vars(task)
        spec: dict[str, Any] = {
            "serviceAccountName": sa_name,
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "activeDeadlineSeconds": task.timeout_s,
            "securityContext": self.pod_security(),
        }
        if init:
            spec["initContainers"] = init
        spec["containers"] = [main]
        spec["volumes"] = volumes
        return spec

    # -- alerts -------------------------------------------------------------------------------
    def prometheus_rule(self, task: Task, cron_names: list[str],
                        labels: dict[str, str]) -> K8sObject:
        name = self.names.name(task.name, "alerts", style=DNS, limit=DNS_LABEL_LIMIT,
                               kind="prometheusrule")
        rules = [self.rule(task, cron_names, alert) for alert in task.alerts]
        return K8sObject({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": _meta(name, self.ns, labels),
            "spec": {"groups": [{"name": f"flowc.{self.app.stack_name}.{task.name}",
                                 "rules": rules}]},
        }, f"prometheus_rule_{task.name}")

    def rule(self, task: Task, cron_names: list[str], alert: Alert) -> dict[str, Any]:
        jobs = "|".join(cron_names)
        sel = f'namespace="{self.ns}", job_name=~"({jobs})-[0-9]+"'
        failed = f'kube_job_failed{{{sel}, condition="true"}} == 1'
        if alert.metric == "errors":  # failed runs that started in the last hour
            expr = (f"count(({failed}) and on(namespace, job_name) "
                    f"(time() - kube_job_status_start_time{{{sel}}} < 3600))")
        elif alert.metric == "dead_letters":  # failed runs kept (failedJobsHistoryLimit)
            expr = f"count({failed})"
        else:  # duration: the longest-running active run, in seconds
            expr = (f"max((time() - kube_job_status_start_time{{{sel}}}) and on(namespace, "
                    f"job_name) (kube_job_status_active{{{sel}}} > 0))")
        return {
            "alert": f"flowc_{task.name}_{alert.metric}",
            "expr": f"{expr} {alert.comparator} {alert.threshold:g}",
            "labels": {"severity": "warning", "flowc_app": self.app.name,
                       "flowc_task": task.name, "flowc_notify": ",".join(alert.notify)},
            "annotations": {
                "summary": f"{task.name}: {alert.metric} {alert.comparator} "
                           f"{alert.threshold:g}",
                "description": f"Task {task.name} of flowc app {self.app.stack_name} "
                               f"(namespace {self.ns}); notify {', '.join(alert.notify)}.",
            },
        }
