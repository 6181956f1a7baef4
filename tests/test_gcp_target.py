"""The GCP target: Cloud Functions / Cloud Run jobs, Cloud Scheduler, least privilege, schema."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from provider_schema import provider_schema
from target_apps import (
    GOLDEN,
    check_golden,
    compile_target,
    only,
    resources,
    sample_app,
    task,
    with_schedules,
)

from flowc.compiler.ir import Alert, Backend, EnvVar, ImageHandler, PythonHandler

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    base = tmp_path_factory.mktemp("gcp-app")
    app = sample_app(base)
    out = tmp_path_factory.mktemp("gcp-out")
    diagnostics, doc = compile_target(app, "gcp", out)
    (w475,) = diagnostics  # once for the app, naming the one image task left on `skip`
    assert w475.code == "W475" and "`cleanup`" in w475.message and "`daily" not in w475.message
    return app, out / "gcp", doc


def test_output_matches_golden_file(compiled):
    _, out, _ = compiled
    check_golden((out / "cdk.tf.json").read_bytes(), GOLDEN / "gcp" / "cdk.tf.json")
    assets = sorted(p.name for p in (out / "assets").iterdir())
    check_golden(("\n".join(assets) + "\n").encode(), GOLDEN / "gcp" / "assets.txt")


def test_every_resource_matches_the_google_provider_schema(compiled):
    _, _, doc = compiled
    schema = provider_schema("google")
    assert sum(len(v) for v in doc["resource"].values()) >= 30
    assert schema.check_document(doc) == []


def test_provider_is_pinned_to_the_checked_schema_version(compiled):
    _, _, doc = compiled
    required = doc["terraform"]["required_providers"]["google"]
    assert required["source"] == "hashicorp/google"
    assert required["version"].startswith("~> ")
    assert provider_schema("google").version == "6.50.0"
    assert doc["provider"]["google"] == [{"project": "acme-prod", "region": "europe-west1"}]


def test_python_task_is_a_cloud_function_built_from_a_private_versioned_bucket(compiled):
    _, out, doc = compiled
    (bucket,) = resources(doc, "google_storage_bucket").values()
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"] == {"enabled": True}
    fn = resources(doc, "google_cloudfunctions2_function")["function_daily_report"]
    assert fn["build_config"]["runtime"].startswith("python3")
    assert fn["service_config"]["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    assert fn["service_config"]["available_memory"] == "1024Mi"
    assert fn["service_config"]["timeout_seconds"] == 300
    obj_name = fn["build_config"]["source"]["storage_source"]["object"]
    obj = resources(doc, "google_storage_bucket_object")[obj_name.split(".")[1]]
    archive = out / obj["source"].removeprefix("${path.module}/")
    names = zipfile.ZipFile(archive).namelist()
    assert {"flowc_entry.py", "jobs/daily.py", "requirements.txt"} <= set(names)
    assert fn["build_config"]["environment_variables"] == {"GOOGLE_FUNCTION_SOURCE":
                                                            "flowc_entry.py"}


def _entry_module(archive: Path, tmp_path: Path, monkeypatch):
    zipfile.ZipFile(archive).extractall(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # flowc_entry imports flowc_fire beside it
    sys.modules.pop("flowc_fire", None)
    import flowc_fire

    monkeypatch.setattr(flowc_fire, "STARTED_DIR", str(tmp_path / "started"))
    spec = importlib.util.spec_from_file_location("flowc_entry_test", tmp_path / "flowc_entry.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_entry_point_runs_the_handler_and_fails_the_request_on_error(
        compiled, tmp_path, monkeypatch):
    _, out, doc = compiled
    obj = next(o for o in resources(doc, "google_storage_bucket_object").values())
    entry = _entry_module(out / obj["source"].removeprefix("${path.module}/"), tmp_path,
                          monkeypatch)
    (tmp_path / "probe.py").write_text(
        "calls = []\n"
        "def ok():\n    calls.append('ok')\n"
        "def boom():\n    raise ValueError('no')\n"
        "def code3():\n    return 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("FLOWC_TASK", "t")
    monkeypatch.setenv("FLOWC_HANDLER", "probe:ok")
    assert entry.flowc_entry(None) == ("ok", 200)
    assert sys.modules["probe"].calls == ["ok"]
    monkeypatch.setenv("FLOWC_HANDLER", "probe:boom")
    with pytest.raises(ValueError):
        entry.flowc_entry(None)
    monkeypatch.setenv("FLOWC_HANDLER", "probe:code3")
    with pytest.raises(RuntimeError, match="exited with 3"):
        entry.flowc_entry(None)


class Request:
    """What flowc_entry reads of the request Cloud Scheduler sends."""

    def __init__(self, job: str, fire: datetime):
        self.headers = {"X-CloudScheduler-JobName": job,
                        "X-CloudScheduler-ScheduleTime": fire.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}


def test_overlap_skip_answers_a_fire_held_past_its_window_with_success(
        compiled, tmp_path, monkeypatch, capsys):
    """Cloud Scheduler holds a job's next execution until the last one answered: with
    `overlap = skip` (one instance, one request) such a fire arrives late; past the start
    window the entry skips it with a success and a `skipped` line, so nothing retries it."""
    _, out, doc = compiled
    fn = resources(doc, "google_cloudfunctions2_function")["function_daily_report"]
    config = fn["service_config"]
    assert (config["max_instance_count"], config["max_instance_request_concurrency"]) == (1, 1)
    window = int(config["environment_variables"]["FLOWC_START_WITHIN_S"])
    assert window == 60  # catch_up 0: the floor shared with k8s's startingDeadlineSeconds
    obj = next(o for o in resources(doc, "google_storage_bucket_object").values())
    entry = _entry_module(out / obj["source"].removeprefix("${path.module}/"), tmp_path,
                          monkeypatch)
    (tmp_path / "probe2.py").write_text("calls = []\ndef ok():\n    calls.append('ok')\n")
    monkeypatch.setenv("FLOWC_TASK", "daily_report")
    monkeypatch.setenv("FLOWC_HANDLER", "probe2:ok")
    monkeypatch.setenv("FLOWC_START_WITHIN_S", str(window))
    now = datetime.now(UTC)
    assert entry.flowc_entry(Request("j", now - timedelta(seconds=3))) == ("ok", 200)
    capsys.readouterr()
    held = Request("j", now - timedelta(seconds=window + 60))
    assert entry.flowc_entry(held) == ("skipped", 200)
    assert sys.modules["probe2"].calls == ["ok"]
    assert capsys.readouterr().out.startswith("flowc: skipped ")
    monkeypatch.delenv("FLOWC_START_WITHIN_S")  # `allow`: a late fire runs
    assert entry.flowc_entry(held) == ("ok", 200)
    assert sys.modules["probe2"].calls == ["ok", "ok"]


def test_overlap_allow_lets_cloud_functions_scale_out(tmp_path):
    app = sample_app(tmp_path)
    app = dataclasses.replace(app, tasks=tuple(
        dataclasses.replace(t, overlap="allow") for t in app.tasks))
    diagnostics, doc = compile_target(app, "gcp", tmp_path / "out")
    assert diagnostics == []  # no W475: the image task said `allow`
    config = resources(doc, "google_cloudfunctions2_function")["function_daily_report"][
        "service_config"]
    assert config["max_instance_count"] > 1
    assert "FLOWC_START_WITHIN_S" not in config["environment_variables"]


def test_image_task_is_a_cloud_run_job_with_retries_timeout_and_args(compiled):
    _, _, doc = compiled
    job = resources(doc, "google_cloud_run_v2_job")["job_cleanup"]
    inner = job["template"]["template"]
    assert inner["max_retries"] == 2
    assert inner["timeout"] == "300s"
    (container,) = inner["containers"]
    assert container["image"] == "busybox:1.36"
    assert container["args"] == ["sh", "-c", "echo cleaning"]
    assert container["resources"]["limits"]["memory"] == "512Mi"


def test_one_scheduler_job_per_expression_with_time_zone_and_retries(compiled):
    _, _, doc = compiled
    jobs = resources(doc, "google_cloud_scheduler_job")
    digest = [j for k, j in jobs.items() if k.startswith("schedule_digest")]
    assert sorted(j["schedule"] for j in digest) == [
        "0 0,3,6,9,12,15,18,21 * * *", "30 1,4,7,10,13,16,19,22 * * *"]
    assert len({j["name"] for j in digest}) == 2
    for j in jobs.values():
        assert j["time_zone"] == "Europe/Berlin"
    assert only(jobs, "schedule_daily_report__")["retry_config"]["retry_count"] == 2
    assert all(j["retry_config"]["retry_count"] == 0 for j in digest)
    assert len(jobs) == 4


def test_functions_are_called_with_oidc_and_jobs_with_oauth_on_the_run_endpoint(compiled):
    _, _, doc = compiled
    jobs = resources(doc, "google_cloud_scheduler_job")
    fn_target = only(jobs, "schedule_daily_report__")["http_target"]
    assert fn_target["uri"] == "${google_cloudfunctions2_function.function_daily_report.url}"
    assert fn_target["oidc_token"] == {
        "audience": fn_target["uri"],
        "service_account_email": "${google_service_account.scheduler_sa_daily_report.email}"}
    job_target = only(jobs, "schedule_cleanup__")["http_target"]
    assert job_target["uri"] == ("https://run.googleapis.com/v2/projects/acme-prod/locations/"
                                 "europe-west1/jobs/${google_cloud_run_v2_job.job_cleanup.name}"
                                 ":run")
    assert job_target["oauth_token"]["service_account_email"] == (
        "${google_service_account.scheduler_sa_cleanup.email}")


def test_each_task_has_its_own_least_privilege_service_accounts(compiled):
    _, _, doc = compiled
    accounts = resources(doc, "google_service_account")
    assert len(accounts) == 6
    ids = [a["account_id"] for a in accounts.values()]
    assert len(set(ids)) == 6 and all(6 <= len(i) <= 30 for i in ids)
    # No project-wide grants at all: every binding is on one resource.
    assert not [t for t in doc["resource"] if t.startswith("google_project_iam")]
    fn_invoker = resources(doc, "google_cloud_run_v2_service_iam_member")
    job_invoker = resources(doc, "google_cloud_run_v2_job_iam_member")
    assert fn_invoker["invoker_daily_report"]["name"] == (
        "${google_cloudfunctions2_function.function_daily_report.service_config[0].service}")
    assert fn_invoker["invoker_daily_report"]["member"] == (
        "serviceAccount:${google_service_account.scheduler_sa_daily_report.email}")
    assert job_invoker["invoker_cleanup"]["name"] == "${google_cloud_run_v2_job.job_cleanup.name}"
    for binding in [*fn_invoker.values(), *job_invoker.values()]:
        assert binding["role"] == "roles/run.invoker"
    access = resources(doc, "google_secret_manager_secret_iam_member")
    assert {k: (v["secret_id"], v["member"]) for k, v in access.items()} == {
        "access_daily_report__db_url": (
            "${google_secret_manager_secret.secret_db_url.secret_id}",
            "serviceAccount:${google_service_account.runtime_sa_daily_report.email}"),
        "access_cleanup__api_token": (
            "${google_secret_manager_secret.secret_api_token.secret_id}",
            "serviceAccount:${google_service_account.runtime_sa_cleanup.email}"),
    }
    assert {v["role"] for v in access.values()} == {"roles/secretmanager.secretAccessor"}


def test_secrets_reach_the_task_as_the_env_var_they_were_bound_to(compiled):
    _, _, doc = compiled
    fn = resources(doc, "google_cloudfunctions2_function")["function_daily_report"]
    assert fn["service_config"]["secret_environment_variables"] == [{
        "key": "DB_URL", "project_id": "acme-prod",
        "secret": "${google_secret_manager_secret.secret_db_url.secret_id}",
        "version": "latest"}]
    # user strings are Terraform literals: `${` is escaped, not interpolated
    assert fn["service_config"]["environment_variables"]["BUCKET"] == "acme-$${reports}"
    assert "google_secret_manager_secret_iam_member.access_daily_report__db_url" in (
        fn["depends_on"])
    env = resources(doc, "google_cloud_run_v2_job")["job_cleanup"]["template"]["template"][
        "containers"][0]["env"]
    assert {"name": "TOKEN", "value_source": {"secret_key_ref": {
        "secret": "${google_secret_manager_secret.secret_api_token.secret_id}",
        "version": "latest"}}} in env
    secrets = resources(doc, "google_secret_manager_secret")
    assert {s["secret_id"] for s in secrets.values()} == {"reports-prod-db_url",
                                                         "reports-prod-api_token"}


def test_dead_letter_topic_receives_failed_runs_through_a_log_sink(compiled):
    _, _, doc = compiled
    topics = resources(doc, "google_pubsub_topic")
    assert set(topics) == {"dead_letter_topic_daily_report", "dead_letter_topic_cleanup"}
    sub = resources(doc, "google_pubsub_subscription")["dead_letter_subscription_daily_report"]
    assert sub["topic"] == "${google_pubsub_topic.dead_letter_topic_daily_report.id}"
    assert sub["expiration_policy"] == {"ttl": ""}
    sink = resources(doc, "google_logging_project_sink")["dead_letter_sink_daily_report"]
    assert sink["destination"] == (
        "pubsub.googleapis.com/${google_pubsub_topic.dead_letter_topic_daily_report.id}")
    assert 'resource.labels.job_id=("reports-prod-daily-report--' in sink["filter"]
    assert "severity>=ERROR" in sink["filter"]
    job_sink = resources(doc, "google_logging_project_sink")["dead_letter_sink_cleanup"]
    assert 'resource.labels.job_name="reports-prod-cleanup"' in job_sink["filter"]
    publisher = resources(doc, "google_pubsub_topic_iam_member")[
        "dead_letter_publisher_daily_report"]
    assert publisher["role"] == "roles/pubsub.publisher"
    assert publisher["member"] == (
        "${google_logging_project_sink.dead_letter_sink_daily_report.writer_identity}")
    assert "digest" not in json.dumps(topics)


def test_alerts_become_policies_with_one_email_channel_per_address(compiled):
    _, _, doc = compiled
    channels = resources(doc, "google_monitoring_notification_channel")
    assert sorted(c["labels"]["email_address"] for c in channels.values()) == [
        "lead@acme.example", "ops@acme.example"]
    policies = resources(doc, "google_monitoring_alert_policy")
    assert len(policies) == 5
    duration = policies["alert_daily_report__2"]["conditions"][0]["condition_threshold"]
    assert "request_latencies" in duration["filter"]
    assert duration["threshold_value"] == 240_000  # milliseconds
    assert len(policies["alert_daily_report__2"]["notification_channels"]) == 2
    dead = policies["alert_daily_report__3"]["conditions"][0]["condition_threshold"]
    assert dead["comparison"] == "COMPARISON_GE"
    assert 'topic_id = "reports-prod-daily_report-dead-letter"' in dead["filter"]
    job_errors = policies["alert_cleanup__1"]["conditions"][0]["condition_threshold"]
    assert 'metric.labels.result = "failed"' in job_errors["filter"]
    assert job_errors["threshold_value"] == 2


def test_without_a_project_the_provider_default_project_is_used(tmp_path):
    app = sample_app(tmp_path, project=None, environment=None)
    diagnostics, doc = compile_target(app, "gcp", tmp_path / "out")
    assert [d.code for d in diagnostics] == ["W475"]  # `cleanup`: skip, a Cloud Run job
    assert "google_client_config" in doc["data"]
    assert doc["provider"]["google"] == [{"region": "europe-west1"}]
    bucket = next(iter(resources(doc, "google_storage_bucket").values()))
    assert bucket["name"].startswith("${data.google_client_config.current.project}-")
    assert provider_schema("google").check_document(doc) == []


def test_gcs_backend_is_written_when_the_environment_declares_one(tmp_path):
    app = sample_app(tmp_path)
    backend = Backend("gcs", (("bucket", "acme-tf"), ("prefix", "flowc/reports")))
    gcp = dataclasses.replace(app.settings["gcp"], backend=backend)
    app = dataclasses.replace(app, settings={**app.settings, "gcp": gcp})
    _, doc = compile_target(app, "gcp", tmp_path / "out")
    assert doc["terraform"]["backend"] == {"gcs": {"bucket": "acme-tf",
                                                   "prefix": "flowc/reports"}}


def test_tasks_not_targeting_gcp_are_left_out(tmp_path):
    app = sample_app(tmp_path)
    app = dataclasses.replace(app, tasks=tuple(
        dataclasses.replace(t, targets=("aws", "k8s")) if t.name == "cleanup" else t
        for t in app.tasks))
    _, doc = compile_target(app, "gcp", tmp_path / "out")
    assert "google_cloud_run_v2_job" not in doc["resource"]
    assert "cleanup" not in json.dumps(doc["resource"])


def test_long_names_are_cut_with_a_hash_and_stay_within_gcp_limits(tmp_path):
    app = sample_app(tmp_path)
    long = "a_very_long_task_name_that_goes_on_and_on_and_on_forever"
    tasks = (with_schedules(task(long, PythonHandler("jobs.digest", "main")), ["0 1 * * *"]),
             with_schedules(task(long + "_2", ImageHandler("busybox:1.36")), ["0 2 * * *"]))
    app = dataclasses.replace(app, tasks=tasks)
    diagnostics, doc = compile_target(app, "gcp", tmp_path / "out")
    assert [d.code for d in diagnostics] == ["W475"]  # `cleanup`: skip, a Cloud Run job
    for sa in resources(doc, "google_service_account").values():
        assert 6 <= len(sa["account_id"]) <= 30 and len(sa["display_name"]) <= 100
    for fn in resources(doc, "google_cloudfunctions2_function").values():
        assert len(fn["name"]) <= 49
    for job in resources(doc, "google_cloud_run_v2_job").values():
        assert len(job["name"]) <= 49
    assert provider_schema("google").check_document(doc) == []


def test_recompiling_an_unchanged_spec_rewrites_nothing(tmp_path):
    app = sample_app(tmp_path)
    compile_target(app, "gcp", tmp_path / "out")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    from flowc.targets.compile import compile_app

    (result,) = compile_app(app, ["gcp"], tmp_path / "out")
    assert result.written == []
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").rglob("*") if p.is_file()}
    assert after == before


def test_changed_code_gets_a_new_content_addressed_source_object(tmp_path):
    app = sample_app(tmp_path)
    _, first = compile_target(app, "gcp", tmp_path / "out")
    (tmp_path / "jobs" / "digest.py").write_text("def main():\n    return 1\n")
    _, second = compile_target(app, "gcp", tmp_path / "out")
    names = lambda d: {o["name"] for o in resources(d, "google_storage_bucket_object").values()}  # noqa: E731
    assert names(first) != names(second)
    assert len(list((tmp_path / "out" / "gcp" / "assets").iterdir())) == 2  # old ones removed


# -- diagnostics ----------------------------------------------------------------------------

def _diagnostics(tmp_path, **changes):
    app = sample_app(tmp_path)
    daily = dataclasses.replace(app.tasks[0], **changes)
    app = dataclasses.replace(app, tasks=(daily,) + app.tasks[1:])
    diagnostics, doc = compile_target(app, "gcp", tmp_path / "out")
    return [d for d in diagnostics if d.code != "W475"], doc  # `cleanup`'s, tested above


def test_reserved_env_var_is_an_error_E450(tmp_path):
    diagnostics, doc = _diagnostics(tmp_path, env=(EnvVar("PORT", "8080"),))
    (d,) = diagnostics
    assert d.code == "E450" and "PORT" in d.message and d.help and d.span
    assert doc == {}


def test_image_services_follow_cloud_run_services_reserved_names(tmp_path):
    """A Cloud Run service reserves PORT and K_*, not the jobs' CLOUD_RUN_* names."""
    from flowc.compiler.pipeline import load_text
    from flowc.targets.env_rules import env_diagnostics

    def reserved(name: str) -> list[str]:
        text = (f'service web {{\n  image = "ghcr.io/acme/web:1"\n  targets = [gcp]\n'
                f'  env {{ {name} = "x" }}\n}}\n')
        result = load_text(text, str(tmp_path / "s.flow"))
        assert result.app is not None, result.diagnostics
        return [d.message for d in env_diagnostics(result.app, "gcp") if d.code == "E450"]

    assert reserved("CLOUD_RUN_JOB") == []  # a job's variable: free for a service
    (message,) = reserved("K_REVISION")
    assert "Cloud Run services" in message and "service `web`" in message


def test_dead_letters_alert_without_dead_letter_is_an_error_E454(tmp_path):
    diagnostics, _ = _diagnostics(tmp_path, on_failure=None, alerts=(
        Alert("dead_letters", ">", 0, ("ops@acme.example",)),))
    assert [d.code for d in diagnostics] == ["E454"]
    assert "on_failure = dead_letter" in diagnostics[0].help


def test_duration_below_alert_on_a_cloud_run_job_is_an_error_E455(tmp_path):
    diagnostics, _ = _diagnostics(
        tmp_path, handler=ImageHandler("busybox:1.36"),
        alerts=(Alert("duration", "<", 10, ("ops@acme.example",)),))
    assert [d.code for d in diagnostics] == ["E455"]


def test_missing_code_directory_is_an_error_E456(tmp_path):
    diagnostics, doc = _diagnostics(tmp_path, code_dir="nowhere")
    assert [d.code for d in diagnostics] == ["E456"]
    assert diagnostics[0].span is not None and doc == {}


def test_source_archive_is_deterministic(compiled, tmp_path):
    app, out, _ = compiled
    again = tmp_path / "again"
    compile_target(app, "gcp", again)
    for archive in (out / "assets").iterdir():
        assert (again / "gcp" / "assets" / archive.name).read_bytes() == archive.read_bytes()
        zipfile.ZipFile(io.BytesIO(archive.read_bytes())).testzip()


def test_layers_requirements_are_shipped_before_the_tasks_own(tmp_path):
    from flowc.compiler.ir import Layer

    app = sample_app(tmp_path / "src")
    (tmp_path / "src" / "common.txt").write_text("pyyaml==6.0.2\n")
    daily = dataclasses.replace(app.tasks[0], layers=("common",))
    app = dataclasses.replace(app, tasks=(daily,), layers=(Layer("common", "common.txt"),))
    diagnostics, doc = compile_target(app, "gcp", tmp_path / "out")
    assert diagnostics == []
    (obj,) = resources(doc, "google_storage_bucket_object").values()
    archive = tmp_path / "out" / "gcp" / obj["source"].removeprefix("${path.module}/")
    text = zipfile.ZipFile(archive).read("requirements.txt").decode()
    assert text.index("pyyaml==6.0.2") < text.index("requests==2.32.3")
