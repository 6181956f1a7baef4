"""The shipped examples (real front end) and the test app compile to valid Kubernetes output."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml
from provider_schema import provider_schema
from target_apps import ROOT, checkov, compile_target, failed_checks, resources, sample_app

from flowc.compiler.pipeline import load

EXAMPLES = sorted((ROOT / "examples").glob("*.flow"))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("k8s-examples")
    compiled = {}
    for path in EXAMPLES:
        base = load(path)
        assert base.ok
        for env in (None, *base.app.environments):
            result = load(path, env)
            assert result.ok
            key = f"{path.stem}-{env or 'noenv'}"
            diagnostics, doc = compile_target(result.app, "k8s", root / key)
            assert not [d for d in diagnostics if d.is_error], diagnostics
            manifests = list(yaml.safe_load_all((root / key / "k8s" / "manifests.yaml")
                                                .read_text()))
            compiled[key] = (result.app, doc, manifests)
    # the test app has every object shape; checkov runs once over all of them
    sample = sample_app(tmp_path_factory.mktemp("k8s-sample"), prometheus=True)
    doc = compile_target(sample, "k8s", root / "sample")[1]
    manifests = list(yaml.safe_load_all((root / "sample" / "k8s" / "manifests.yaml").read_text()))
    compiled["sample"] = (sample, doc, manifests)
    return root, compiled


def test_every_example_matches_the_kubernetes_provider_schema(outputs):
    _, compiled = outputs
    assert compiled
    for _, doc, _ in compiled.values():
        assert provider_schema("kubernetes").check_document(doc) == []


def test_every_example_manifest_passes_kubernetes_validate(outputs):
    _, compiled = outputs
    for _, _, manifests in compiled.values():
        for m in manifests:
            if m["kind"] != "PrometheusRule":
                kubernetes_validate.validate(m, "1.30.0", strict=True)


def test_cronjobs_match_the_translated_schedules_and_name_limits(outputs):
    _, compiled = outputs
    for app, doc, manifests in compiled.values():
        expected = sorted(s.expression for t in app.tasks_for("k8s")
                          for s in t.schedules_for("k8s"))
        crons = resources(doc, "kubernetes_cron_job_v1")
        assert sorted(c["spec"]["schedule"] for c in crons.values()) == expected
        assert sorted(m["spec"]["schedule"] for m in manifests if m["kind"] == "CronJob") == (
            expected)
        assert all(len(c["metadata"]["name"]) <= 52 for c in crons.values())
        assert {m["metadata"]["namespace"] for m in manifests} == {app.settings["k8s"].namespace}


def test_checkov_reports_no_failed_check(outputs):
    root, _ = outputs
    reports = checkov(root, ("terraform_json", "kubernetes"))
    assert reports["kubernetes"]["summary"]["passed"] >= 100
    assert failed_checks(reports) == []
