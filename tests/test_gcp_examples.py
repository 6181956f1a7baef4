"""The shipped examples (real front end) and the test app compile to valid, checkov-clean GCP."""

from __future__ import annotations

import pytest
from provider_schema import provider_schema
from target_apps import ROOT, checkov, compile_target, failed_checks, resources, sample_app

from flowc.compiler.pipeline import load

EXAMPLES = sorted((ROOT / "examples").glob("*.flow"))
GCP_TYPES = {"google_cloudfunctions2_function", "google_cloud_run_v2_job"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Each example, without an environment and with each it declares."""
    root = tmp_path_factory.mktemp("gcp-examples")
    compiled = {}
    for path in EXAMPLES:
        base = load(path)
        assert base.ok, [d.message for d in base.diagnostics if d.is_error]
        for env in (None, *base.app.environments):
            result = load(path, env)
            assert result.ok
            key = f"{path.stem}-{env or 'noenv'}"
            diagnostics, doc = compile_target(result.app, "gcp", root / key)
            assert not [d for d in diagnostics if d.is_error], diagnostics
            compiled[key] = (result.app, doc)
    # the test app has every resource shape; checkov runs once over all of them
    sample = sample_app(tmp_path_factory.mktemp("gcp-sample"))
    compiled["sample"] = (sample, compile_target(sample, "gcp", root / "sample")[1])
    return root, compiled


def test_examples_exist():
    assert EXAMPLES


def test_every_example_matches_the_google_provider_schema(outputs):
    _, compiled = outputs
    for app, doc in compiled.values():
        if app.tasks_for("gcp"):
            assert provider_schema("google").check_document(doc) == []


def test_scheduler_jobs_match_the_translated_schedules(outputs):
    _, compiled = outputs
    for app, doc in compiled.values():
        tasks = app.tasks_for("gcp")
        expected = sorted((t.name, s.expression, s.timezone)
                          for t in tasks for s in t.schedules_for("gcp"))
        jobs = resources(doc, "google_cloud_scheduler_job")
        runners = {b["name"] for kind in GCP_TYPES for b in resources(doc, kind).values()
                   if "service" not in b.get("labels", {})}  # services' functions run no task
        assert len(jobs) == len(expected)
        assert sorted((j["schedule"], j["time_zone"]) for j in jobs.values()) == sorted(
            e[1:] for e in expected)
        assert len(runners) == len(tasks)


def test_checkov_reports_no_failed_check(outputs):
    root, compiled = outputs
    reports = checkov(root, ("terraform_json",))
    assert reports["terraform_json"]["summary"]["passed"] >= 9 + len(compiled)
    assert failed_checks(reports) == []
