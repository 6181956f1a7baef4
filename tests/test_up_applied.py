"""`flowc up` skips Terraform only when the last successful apply was made from exactly
the same configuration and state, to the same embedded emulator process
(flowc/deploy/applied.py)."""

from __future__ import annotations

import json

from flowc.deploy import applied
from flowc.deploy.localcloud import LocalCloud

URL = "http://127.0.0.1:4599"


def _stack(tmp_path):
    (tmp_path / "cdk.tf.json").write_text(json.dumps({"resource": {"aws_sqs_queue": {}}}))
    (tmp_path / "flowc_local_override.tf.json").write_text(json.dumps({"provider": {}}))
    (tmp_path / "terraform.tfstate").write_text(json.dumps({"serial": 3}))
    return tmp_path


def test_nothing_changed_since_the_last_apply_to_the_same_emulator(tmp_path):
    work, moto = _stack(tmp_path), LocalCloud("moto", URL, pid=4242, port=4599)
    assert not applied.unchanged(work, moto)  # never applied
    applied.remember(work, moto)
    assert applied.unchanged(work, moto)
    assert not applied.unchanged(work, LocalCloud("moto", URL, pid=4243, port=4599))


def test_any_change_to_configuration_or_state_means_terraform_runs(tmp_path):
    work, moto = _stack(tmp_path), LocalCloud("moto", URL, pid=4242, port=4599)
    for name, text in [("cdk.tf.json", '{"resource": {}}'),
                       ("flowc_local_override.tf.json", '{"provider": {"aws": []}}'),
                       ("terraform.tfstate", '{"serial": 4}'),  # terraform ran by hand
                       ("extra_override.tf.json", "{}")]:
        applied.remember(work, moto)
        before = (work / name).read_text() if (work / name).exists() else None
        (work / name).write_text(text)
        assert not applied.unchanged(work, moto), name
        if before is None:
            (work / name).unlink()
        else:
            (work / name).write_text(before)
        assert applied.unchanged(work, moto), name  # the same bytes again


def test_a_failed_apply_or_localstack_leaves_no_record(tmp_path):
    work, moto = _stack(tmp_path), LocalCloud("moto", URL, pid=4242, port=4599)
    applied.remember(work, moto)
    applied.forget(work)  # what runs before every Terraform command
    assert not applied.unchanged(work, moto)
    localstack = LocalCloud("localstack", URL)  # no process to tell a restart by
    applied.remember(work, localstack)
    assert not (work / applied.APPLIED_FILE).exists()
    assert not applied.unchanged(work, localstack)
