"""The schema checker against the kubernetes provider: it must catch what Terraform would."""

from __future__ import annotations

import copy
import json

import pytest
from provider_schema import provider_schema
from target_apps import GOLDEN, only


@pytest.fixture(scope="module")
def doc():
    return json.loads((GOLDEN / "k8s" / "cdk.tf.json").read_text())


def _pod(doc):
    cron = only(doc["resource"]["kubernetes_cron_job_v1"], "cron_job_daily_report__")
    return cron["spec"]["job_template"]["spec"]["template"]["spec"]


def test_the_golden_output_is_clean(doc):
    assert provider_schema("kubernetes").check_document(doc) == []
    assert provider_schema("kubernetes").version == "2.38.0"


def test_manifest_spellings_the_provider_does_not_accept_are_caught(doc):
    bad = copy.deepcopy(doc)
    cron = only(bad["resource"]["kubernetes_cron_job_v1"], "cron_job_daily_report__")
    cron["spec"]["time_zone"] = cron["spec"].pop("timezone")
    pod = _pod(bad)
    pod["containers"] = pod.pop("container")
    pod["security_context"]["run_as_user"] = 65532  # the provider types it as a string
    errors = provider_schema("kubernetes").check_document(bad)
    assert any("unknown argument 'time_zone'" in e and "'timezone'" in e for e in errors)
    assert any("unknown argument 'containers'" in e for e in errors)
    assert any("run_as_user: expected string" in e for e in errors)


def test_missing_required_nested_blocks_are_caught(doc):
    bad = copy.deepcopy(doc)
    del only(bad["resource"]["kubernetes_cron_job_v1"], "cron_job_daily_report__")["spec"][
        "job_template"]["metadata"]
    for env in _pod(bad)["container"][0]["env"]:
        env.pop("name")
    errors = provider_schema("kubernetes").check_document(bad)
    assert any(e.endswith("job_template[0]: missing required argument 'metadata'")
               for e in errors)
    assert sum("missing required argument 'name'" in e for e in errors) == len(
        _pod(bad)["container"][0]["env"])


def test_meta_arguments_are_checked_too(doc):
    bad = copy.deepcopy(doc)
    secret = bad["resource"]["kubernetes_secret_v1"]["secret_db_url"]
    secret["lifecycle"]["ignore_change"] = ["data"]
    errors = provider_schema("kubernetes").check_document(bad)
    assert errors == ["kubernetes_secret_v1.secret_db_url.lifecycle: unknown keys "
                      "['ignore_change']"]
