"""The schema checker (tests/provider_schema.py) itself: it must catch what Terraform would."""

from __future__ import annotations

import copy
import json

import pytest
from provider_schema import backend_arguments, provider_schema, version_satisfies
from target_apps import GOLDEN, only

from flowc.targets.gcp import build as gcp


@pytest.fixture(scope="module")
def doc():
    return json.loads((GOLDEN / "gcp" / "cdk.tf.json").read_text())


def test_the_golden_output_is_clean(doc):
    assert provider_schema("google").check_document(doc) == []


def test_unknown_missing_and_mistyped_arguments_are_caught(doc):
    bad = copy.deepcopy(doc)
    job = only(bad["resource"]["google_cloud_scheduler_job"], "schedule_daily_report__")
    job["timezone"] = job.pop("time_zone")  # the k8s spelling
    del job["http_target"]["uri"]
    job["retry_config"]["retry_count"] = "2"
    errors = provider_schema("google").check_document(bad)
    assert any("unknown argument 'timezone'" in e and "time_zone" in e for e in errors)
    assert any("missing required argument 'uri'" in e for e in errors)
    assert any("retry_count: expected number" in e for e in errors)


def test_two_blocks_where_the_provider_allows_one_are_caught(doc):
    bad = copy.deepcopy(doc)
    fn = bad["resource"]["google_cloudfunctions2_function"]["function_daily_report"]
    fn["build_config"] = [fn["build_config"], fn["build_config"]]
    errors = provider_schema("google").check_document(bad)
    assert errors == ["google_cloudfunctions2_function.function_daily_report.build_config: "
                      "at most one build_config block allowed"]


def test_unknown_resource_types_and_dangling_references_are_caught(doc):
    bad = copy.deepcopy(doc)
    bad["resource"]["google_cloud_function_v3"] = {"x": {}}
    fn = bad["resource"]["google_cloudfunctions2_function"]["function_daily_report"]
    fn["service_config"]["service_account_email"] = "${google_service_account.nope.email}"
    sched = only(bad["resource"]["google_cloud_scheduler_job"], "schedule_daily_report__")
    sched["http_target"]["uri"] = "${google_cloudfunctions2_function.function_daily_report.uri}"
    errors = provider_schema("google").check_document(bad)
    assert any("unknown resource type 'google_cloud_function_v3'" in e for e in errors)
    assert any("google_service_account.nope" in e and "no block" in e for e in errors)
    assert any("has no attribute 'uri'" in e for e in errors)


def test_the_provider_pin_must_admit_the_checked_version(doc):
    bad = copy.deepcopy(doc)
    bad["terraform"]["required_providers"]["google"]["version"] = "~> 5.0"
    errors = provider_schema("google").check_document(bad)
    assert errors and "does not admit 6.50.0" in errors[0]
    assert version_satisfies("6.50.0", gcp.PROVIDER_VERSION)
    assert version_satisfies("6.50.3", "~> 6.50.0")
    assert not version_satisfies("6.51.0", "~> 6.50.0")
    assert version_satisfies("6.51.0", "~> 6.50")
    assert not version_satisfies("7.0.0", "~> 6.50")
    assert version_satisfies("2.38.0", ">= 2.0, < 3.0")


def test_gcs_backend_arguments_come_from_cdktf():
    assert {"bucket", "prefix"} <= backend_arguments("gcs")
