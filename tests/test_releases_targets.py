"""Releases on GCP and Kubernetes: code objects are content-addressed, so rolling back is
compiling (and applying) the earlier release again: byte-identical output, no log needed.
GCP names the function's Cloud Run revision and the job's generation in outputs.
"""

from __future__ import annotations

from pathlib import Path

from flowc.targets.compile import compile_app
from tests.target_apps import sample_app

DAILY = "jobs/daily.py"


def _compile(app, target: str, out: Path) -> dict[str, bytes]:
    [result] = compile_app(app, [target], out)
    assert not any(d.is_error for d in result.diagnostics), result.diagnostics
    root = out / target
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".flowc-state.json"}


def test_recompiling_an_earlier_release_gives_its_output_back_byte_for_byte(tmp_path):
    app = sample_app(tmp_path / "src")
    code = tmp_path / "src" / DAILY
    original = code.read_text()
    for target in ("k8s", "gcp"):
        out = tmp_path / f"out-{target}"
        first = _compile(app, target, out)
        code.write_text(original + "# release 2\n")
        second = _compile(app, target, out)
        code.write_text(original)  # roll back: the earlier release's code
        third = _compile(app, target, out)
        assert first == third, target
        assert first != second, target
        if target == "k8s":  # a new ConfigMap name, not an edit of the old one
            names = [{line for line in files["manifests.yaml"].decode().splitlines()
                      if "name: reports-prod-code-" in line} for files in (first, second)]
            # the edited task's code gets a new name; the other task's is untouched
            assert names[0] - names[1] and names[1] - names[0] and names[0] & names[1]
        else:  # a new source object in the bucket, named by the zip's hash
            assert {n for n in first if n.startswith("assets/")} != \
                {n for n in second if n.startswith("assets/")}


def test_gcp_outputs_name_the_revision_and_the_job_generation(tmp_path):
    import json

    app = sample_app(tmp_path / "src")
    _compile(app, "gcp", tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "gcp" / "cdk.tf.json").read_text())
    assert doc["output"]["daily_report_revision"]["value"] == \
        "${data.google_cloud_run_v2_service.service_daily_report.latest_ready_revision}"
    service = doc["data"]["google_cloud_run_v2_service"]["service_daily_report"]
    assert service["depends_on"] == ["google_cloudfunctions2_function.function_daily_report"]
    assert doc["output"]["cleanup_job_generation"]["value"] == \
        "${google_cloud_run_v2_job.job_cleanup.generation}"


def test_k8s_outputs_name_each_python_tasks_code_config_map(tmp_path):
    import json

    app = sample_app(tmp_path / "src")
    _compile(app, "k8s", tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "k8s" / "cdk.tf.json").read_text())
    value = doc["output"]["daily_report_code_config_map"]["value"]
    config_maps = doc["resource"]["kubernetes_config_map_v1"]
    assert value in {c["metadata"]["name"] for c in config_maps.values()}
    assert all(c["immutable"] is True for c in config_maps.values())
