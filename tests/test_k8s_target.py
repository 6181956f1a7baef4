"""The Kubernetes target: CronJobs in cdk.tf.json and manifests.yaml, from one description."""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from provider_schema import provider_schema
from target_apps import (
    GOLDEN,
    check_golden,
    compile_target,
    of_task,
    only,
    resources,
    sample_app,
    task,
    with_schedules,
)

from flowc.compiler.ir import Alert, ImageHandler, PythonHandler
from flowc.targets.k8s.build import to_terraform
from flowc.targets.k8s.manifests import RUNNER

K8S_VERSION = "1.30.0"  # CronJob timeZone is GA since 1.27
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    base = tmp_path_factory.mktemp("k8s-app")
    app = sample_app(base, prometheus=True)
    out = tmp_path_factory.mktemp("k8s-out")
    diagnostics, doc = compile_target(app, "k8s", out)
    assert diagnostics == []
    manifests = list(yaml.safe_load_all((out / "k8s" / "manifests.yaml").read_text()))
    return app, out / "k8s", doc, manifests


def _by_kind(manifests, kind):
    return [m for m in manifests if m["kind"] == kind]


def test_output_matches_golden_files(compiled):
    _, out, _, _ = compiled
    check_golden((out / "cdk.tf.json").read_bytes(), GOLDEN / "k8s" / "cdk.tf.json")
    check_golden((out / "manifests.yaml").read_bytes(), GOLDEN / "k8s" / "manifests.yaml")


def test_every_resource_matches_the_kubernetes_provider_schema(compiled):
    _, _, doc, _ = compiled
    assert sum(len(v) for v in doc["resource"].values()) == 13
    assert provider_schema("kubernetes").check_document(doc) == []


def test_manifests_pass_kubernetes_validate(compiled):
    _, _, _, manifests = compiled
    builtin = [m for m in manifests if m["kind"] != "PrometheusRule"]
    assert len(builtin) == 11
    for m in builtin:
        kubernetes_validate.validate(m, K8S_VERSION, strict=True)


def test_kubernetes_validate_rejects_a_broken_cronjob(compiled):
    _, _, _, manifests = compiled
    broken = copy.deepcopy(_by_kind(manifests, "CronJob")[0])
    broken["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["bogus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_manifests_and_terraform_hold_the_same_objects(compiled):
    _, _, doc, manifests = compiled
    tf = {}
    for type_, bodies in doc["resource"].items():
        for body in bodies.values():
            body = {k: v for k, v in body.items() if k not in ("//", "depends_on", "lifecycle")}
            tf[(type_, _name(type_, body))] = body
    from_yaml = {}
    for m in manifests:
        type_, body = to_terraform(m)
        from_yaml[(type_, _name(type_, body))] = body
    assert from_yaml == tf


def _name(type_, body):
    if type_ == "kubernetes_manifest":
        return body["manifest"]["metadata"]["name"]
    return body["metadata"]["name"]


def test_user_strings_are_terraform_literals_but_plain_in_manifests(compiled):
    _, _, doc, manifests = compiled
    cm = next(m for m in _by_kind(manifests, "ConfigMap") if "jobs.run.sh" in m["data"])
    assert '"${HOME}" %{ not a template }' in cm["data"]["jobs.run.sh"]
    (tf_cm,) = [b for b in resources(doc, "kubernetes_config_map_v1").values()
                if b["metadata"]["name"] == cm["metadata"]["name"]]
    assert '"$${HOME}" %%{ not a template }' in tf_cm["data"]["jobs.run.sh"]
    tf_env = only(resources(doc, "kubernetes_cron_job_v1"), "cron_job_daily_report__")["spec"][
        "job_template"]["spec"]["template"]["spec"]["container"][0]["env"]
    assert {"name": "BUCKET", "value": "acme-$${reports}"} in tf_env


def test_one_cronjob_per_expression_with_schedule_settings(compiled):
    _, _, doc, manifests = compiled
    crons = {m["metadata"]["name"]: m["spec"] for m in _by_kind(manifests, "CronJob")}
    assert [len(of_task(crons, f"reports-prod-{t}--")) for t in
            ("cleanup", "daily-report", "digest")] == [1, 1, 2] and len(crons) == 4
    digest = sorted(of_task(crons, "reports-prod-digest--"), key=lambda c: c["schedule"])
    assert [c["schedule"] for c in digest] == [
        "0 0,3,6,9,12,15,18,21 * * *", "30 1,4,7,10,13,16,19,22 * * *"]
    for spec in crons.values():
        assert spec["timeZone"] == "Europe/Berlin"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["startingDeadlineSeconds"] > 0
    daily = only(crons, "reports-prod-daily-report--")
    assert daily["failedJobsHistoryLimit"] > digest[0][
        "failedJobsHistoryLimit"]  # failed runs kept for on_failure = dead_letter
    job = daily["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 2
    assert job["template"]["spec"]["activeDeadlineSeconds"] == 300  # per attempt
    assert job["activeDeadlineSeconds"] >= 3 * 300  # all attempts and back-off
    tf = only(resources(doc, "kubernetes_cron_job_v1"), "cron_job_daily_report__")["spec"]
    assert tf["timezone"] == "Europe/Berlin" and tf["concurrency_policy"] == "Forbid"
    assert digest[0]["jobTemplate"]["spec"]["backoffLimit"] == 0


def test_pods_are_hardened(compiled):
    _, _, _, manifests = compiled
    for cron in _by_kind(manifests, "CronJob"):
        pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            assert set(c["resources"]["requests"]) == set(c["resources"]["limits"]) == {
                "cpu", "memory"}
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
        assert {"name": "tmp", "emptyDir": {}} in pod["volumes"]


def test_each_task_has_a_service_account_without_token_automount(compiled):
    _, _, _, manifests = compiled
    accounts = _by_kind(manifests, "ServiceAccount")
    assert len(accounts) == 3
    assert all(a["automountServiceAccountToken"] is False for a in accounts)
    for cron in _by_kind(manifests, "CronJob"):
        pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        task_name = cron["metadata"]["labels"]["task"]
        (sa,) = [a for a in accounts if a["metadata"]["labels"]["task"] == task_name]
        assert pod["serviceAccountName"] == sa["metadata"]["name"]


def test_secrets_are_read_with_secret_key_ref(compiled):
    _, _, doc, manifests = compiled
    secrets = {s["metadata"]["name"] for s in _by_kind(manifests, "Secret")}
    assert secrets == {"reports-prod-db-url", "reports-prod-api-token"}
    cron = next(m for m in _by_kind(manifests, "CronJob")
                if m["metadata"]["name"].startswith("reports-prod-daily-report--"))
    env = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "DB_URL", "valueFrom": {"secretKeyRef": {
        "name": "reports-prod-db-url", "key": "db_url"}}} in env
    tf_secret = resources(doc, "kubernetes_secret_v1")["secret_db_url"]
    assert tf_secret["lifecycle"] == {"ignore_changes": ["data", "binary_data"]}
    tf_cron = only(resources(doc, "kubernetes_cron_job_v1"), "cron_job_daily_report__")
    assert "kubernetes_secret_v1.secret_db_url" in tf_cron["depends_on"]
    assert "kubernetes_service_account_v1.service_account_daily_report" in tf_cron["depends_on"]


def test_image_task_runs_its_image_with_the_command_as_args(compiled):
    _, _, _, manifests = compiled
    cron = next(m for m in _by_kind(manifests, "CronJob")
                if m["metadata"]["name"].startswith("reports-prod-cleanup--"))
    (c,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert c["image"] == "busybox:1.36"
    assert c["args"] == ["sh", "-c", "echo cleaning"]
    assert c["resources"]["limits"]["memory"] == "512Mi"


def test_python_code_ships_in_a_read_only_configmap_in_the_python_image(compiled):
    app, _, _, manifests = compiled
    cron = next(m for m in _by_kind(manifests, "CronJob")
                if m["metadata"]["name"].startswith("reports-prod-digest--"))
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    digest = app.task("digest")
    assert app.settings["k8s"].python_image is None  # not set: the official image of python_version
    assert c["image"] == f"python:{digest.python_version}-slim" == "python:3.12-slim"
    assert c["resources"]["limits"]["cpu"] == "0.5"
    assert {"name": "code", "mountPath": "/code", "readOnly": True} in c["volumeMounts"]
    volume = next(v for v in pod["volumes"] if v["name"] == "code")
    (cm,) = [m for m in _by_kind(manifests, "ConfigMap")
             if m["metadata"]["name"] == volume["configMap"]["name"]]
    assert cm["immutable"] is True
    paths = {i["path"] for i in volume["configMap"]["items"]}
    assert "jobs/digest.py" in paths
    assert "jobs/daily.py" not in paths  # another task's module (issue 16: per-task code)
    assert "initContainers" not in pod  # digest has no requirements


def test_requirements_are_installed_by_an_init_container(compiled):
    _, _, _, manifests = compiled
    cron = next(m for m in _by_kind(manifests, "CronJob")
                if m["metadata"]["name"].startswith("reports-prod-daily-report--"))
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert init["command"][:4] == ["python", "-m", "pip", "install"]
    assert "/code/flowc-requirements.txt" in init["command"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["PYTHONPATH"] == "/code:/deps"


def _materialize(manifests, cron_name: str, root: Path) -> dict[str, str]:
    """Lay out the ConfigMap as kubelet would mount it; return the container env."""
    cron = next(m for m in _by_kind(manifests, "CronJob")
                if m["metadata"]["name"].startswith(cron_name))
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "code")["configMap"]
    (cm,) = [m for m in _by_kind(manifests, "ConfigMap")
             if m["metadata"]["name"] == volume["name"]]
    for item in volume["items"]:
        path = root / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cm["data"][item["key"]])
    (c,) = pod["containers"]
    assert c["command"] == ["python", "-c", RUNNER]
    return {e["name"]: e["value"] for e in c["env"] if "value" in e}


def test_the_container_command_runs_the_handler_from_the_mounted_code(compiled, tmp_path):
    _, _, _, manifests = compiled
    env = _materialize(manifests, "reports-prod-digest--", tmp_path / "code")
    env["PYTHONPATH"] = str(tmp_path / "code")
    run = subprocess.run([sys.executable, "-c", RUNNER], cwd=tmp_path / "code",
                         env=dict(os.environ, **env), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    (tmp_path / "code" / "jobs" / "digest.py").write_text("def main():\n    return 4\n")
    run = subprocess.run([sys.executable, "-c", RUNNER], cwd=tmp_path / "code",
                         env=dict(os.environ, **env), capture_output=True, text=True)
    assert run.returncode == 4


def test_configmap_name_follows_the_code_content(tmp_path):
    app = sample_app(tmp_path / "src")
    _, first = compile_target(app, "k8s", tmp_path / "a")
    _, again = compile_target(app, "k8s", tmp_path / "b")
    (tmp_path / "src" / "jobs" / "digest.py").write_text("def main():\n    return 1\n")
    _, changed = compile_target(app, "k8s", tmp_path / "c")

    def names(doc):
        return sorted(b["metadata"]["name"]
                      for b in resources(doc, "kubernetes_config_map_v1").values())
    assert names(first) == names(again)
    assert names(first) != names(changed)


def test_prometheus_rules_only_when_an_operator_is_declared(compiled, tmp_path):
    _, _, doc, manifests = compiled
    rules = _by_kind(manifests, "PrometheusRule")
    assert len(rules) == 2 and len(resources(doc, "kubernetes_manifest")) == 2
    (group,) = rules[0]["spec"]["groups"]
    exprs = [r["expr"] for r in group["rules"]]
    assert all("reports-prod-daily-report" in e for e in exprs)
    assert exprs[0].startswith("count(") and exprs[0].endswith("> 0")
    assert all(re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", r["alert"]) for r in group["rules"])
    plain = sample_app(tmp_path, prometheus=False)
    _, doc2 = compile_target(plain, "k8s", tmp_path / "out")
    assert "kubernetes_manifest" not in doc2["resource"]


def test_cronjob_names_stay_within_52_dns_1123_characters(tmp_path):
    app = sample_app(tmp_path)
    long = "a_very_long_task_name_that_goes_on_and_on_and_on_forever_and_ever"
    tasks = (with_schedules(task(long, ImageHandler("busybox:1.36")), ["0 1 * * *"]),
             with_schedules(task(long + "_2", PythonHandler("jobs.digest", "main")),
                            ["0 2 * * *", "0 3 * * *"]))
    app = dataclasses.replace(app, tasks=tasks)
    diagnostics, doc = compile_target(app, "k8s", tmp_path / "out")
    assert diagnostics == []
    names = [b["metadata"]["name"] for b in resources(doc, "kubernetes_cron_job_v1").values()]
    assert len(names) == len(set(names)) == 3
    assert all(len(n) <= 52 and DNS_1123.match(n) for n in names)
    for body in resources(doc, "kubernetes_service_account_v1").values():
        assert len(body["metadata"]["name"]) <= 63 and DNS_1123.match(body["metadata"]["name"])


def test_namespace_comes_from_the_environment(compiled):
    app, _, doc, manifests = compiled
    assert {m["metadata"]["namespace"] for m in manifests} == {"reports"}
    assert doc["output"]["namespace"]["value"] == "reports"


def test_recompiling_an_unchanged_spec_rewrites_nothing(tmp_path):
    from flowc.targets.compile import compile_app

    app = sample_app(tmp_path)
    compile_app(app, ["k8s"], tmp_path / "out")
    (result,) = compile_app(app, ["k8s"], tmp_path / "out")
    assert result.written == [] and not result.synthesized


def test_code_too_large_for_a_configmap_is_an_error_E460(tmp_path):
    app = sample_app(tmp_path)
    (tmp_path / "big.bin").write_bytes(os.urandom(1100 * 1024))
    daily = dataclasses.replace(app.tasks[0], include=("big.bin",))  # shipped by `include`
    app = dataclasses.replace(app, tasks=(daily, *app.tasks[1:]))
    diagnostics, doc = compile_target(app, "k8s", tmp_path / "out")
    codes = {d.code for d in diagnostics}
    assert codes == {"E460"} and doc == {}
    assert all(d.span is not None and d.help for d in diagnostics)


def test_missing_code_directory_is_an_error_E456(tmp_path):
    app = sample_app(tmp_path)
    daily = dataclasses.replace(app.tasks[0], code_dir="nowhere")
    app = dataclasses.replace(app, tasks=(daily,) + app.tasks[1:])
    diagnostics, _ = compile_target(app, "k8s", tmp_path / "out")
    assert [d.code for d in diagnostics] == ["E456"]


def test_alerts_without_prometheus_emit_no_rules_and_no_error(tmp_path):
    app = sample_app(tmp_path)
    daily = dataclasses.replace(app.tasks[0], alerts=(Alert("errors", ">", 0, ("a@b.co",)),))
    app = dataclasses.replace(app, tasks=(daily,))
    diagnostics, doc = compile_target(app, "k8s", tmp_path / "out")
    assert diagnostics == [] and "kubernetes_manifest" not in doc["resource"]


def test_kubernetes_backend_is_written_without_the_default_local_one(tmp_path):
    from flowc.compiler.ir import Backend

    app = sample_app(tmp_path)
    backend = Backend("kubernetes", (("namespace", "tf-state"), ("secret_suffix", "reports")))
    k8s = dataclasses.replace(app.settings["k8s"], backend=backend)
    app = dataclasses.replace(app, settings={**app.settings, "k8s": k8s})
    _, doc = compile_target(app, "k8s", tmp_path / "out")
    assert doc["terraform"]["backend"] == {
        "kubernetes": {"namespace": "tf-state", "secret_suffix": "reports"}}


def test_layers_requirements_are_installed_too(tmp_path):
    from flowc.compiler.ir import Layer

    app = sample_app(tmp_path / "src")
    (tmp_path / "src" / "common.txt").write_text("pyyaml==6.0.2\n")
    digest = dataclasses.replace(app.tasks[2], layers=("common",))  # no requirements itself
    app = dataclasses.replace(app, tasks=(digest,), layers=(Layer("common", "common.txt"),))
    diagnostics, doc = compile_target(app, "k8s", tmp_path / "out")
    assert diagnostics == []
    (cm,) = resources(doc, "kubernetes_config_map_v1").values()
    assert "pyyaml==6.0.2" in cm["data"]["flowc-requirements.txt"]
    pod = of_task(resources(doc, "kubernetes_cron_job_v1"), "cron_job_digest__")[0]["spec"][
        "job_template"]["spec"]["template"]["spec"]
    assert pod["init_container"][0]["name"] == "install-requirements"
