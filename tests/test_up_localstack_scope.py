"""Which resources `flowc up` leaves out against LocalStack (no server: the compiled doc)."""

from __future__ import annotations

import json

from flowc.compiler.pipeline import load_text
from flowc.deploy import localstack_scope
from flowc.targets.compile import compile_app

SPEC = """
app scope
secret token
task py {
  python = "jobs.main:main"
  schedule = "daily"
  env { TOKEN = secret.token }
  on_failure = dead_letter
  targets = [aws]
}
task img {
  image = "busybox:1"
  schedule = "daily"
  memory = 512MB
  targets = [aws]
}
service worker {
  image = "busybox:1"
  targets = [aws]
}
environment prod { aws { subnets = ["subnet-1"] } }
"""


def compiled(tmp_path):
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "__init__.py").touch()
    (tmp_path / "jobs" / "main.py").write_text("def main():\n    pass\n")
    result = load_text(SPEC, str(tmp_path / "scope.flow"), env="prod")
    assert result.ok, result.diagnostics
    compile_app(result.app, ["aws"], tmp_path / "out")
    return result.app, json.loads((tmp_path / "out" / "aws" / "cdk.tf.json").read_text())


def test_functions_ecs_and_what_refers_to_them_are_left_out(tmp_path):
    app, doc = compiled(tmp_path)
    offered = {"sqs", "sns", "secretsmanager", "scheduler", "iam", "logs", "kms", "lambda",
               "events", "cloudwatch", "sts", "s3"}
    reasons = localstack_scope.unsupported(doc, offered)
    assert reasons["aws_lambda_function.py_function"].startswith("Lambda functions")
    assert "ECS" in reasons["aws_ecs_task_definition.img_ecs_task"]
    assert reasons["aws_lambda_alias.py_alias"] == "needs aws_lambda_function.py_function"
    schedules = [a for a in localstack_scope.blocks(doc) if "scheduler_schedule." in a]
    assert schedules and all(a in reasons for a in schedules)  # they invoke what is gone
    targets = localstack_scope.targets(doc, reasons)
    assert "aws_sqs_queue.py_dlq" in targets and "aws_secretsmanager_secret.token_secret" in \
        targets
    assert not set(targets) & set(reasons)
    diag = localstack_scope.diagnostic(app, doc, reasons, "http://127.0.0.1:4566")
    assert diag.code == "W603" and "task `py`" in diag.message and "task `img`" in diag.message
    assert "aws_ecs_service.svc_worker" in reasons and "service `worker`" in diag.message
    assert "LOCALSTACK_HOST" in diag.help


def test_everything_offered_but_lambda_still_leaves_functions_out(tmp_path):
    _, doc = compiled(tmp_path)
    reasons = localstack_scope.unsupported(doc, None)  # health did not list services
    assert "aws_lambda_function.py_function" in reasons
    assert "aws_ecs_task_definition.img_ecs_task" not in reasons
