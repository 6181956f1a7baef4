"""The AWS target's resource graph, built without synthesis: counts implied by the schedules,
least-privilege policies, secrets, diagnostics, Fargate sizes and name limits."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler.ir import Alert, ImageHandler, PythonHandler
from flowc.targets.aws import AwsSettings
from flowc.targets.aws.build import AwsBuilder
from flowc.targets.aws.ecs import FARGATE_SIZES, fargate_size
from flowc.targets.base import Stack
from tests.aws_support import aws_app, span, task
from tests.target_apps import of_task, only

UNTAGGABLE = {
    "aws_iam_role_policy", "aws_kms_alias", "aws_lambda_function_event_invoke_config",
    "aws_scheduler_schedule", "aws_sns_topic_subscription", "aws_sqs_queue_policy",
    "aws_cloudwatch_event_target",
    # releases (issue 7): aliases and layer versions take no tags; bucket settings are
    # sub-resources of the tagged bucket
    "aws_lambda_alias", "aws_lambda_layer_version", "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls", "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_policy",
}
SCOPED_NAMES = {"aws_lambda_alias"}  # an alias name is unique per function only
NAME_FIELDS = ("name", "function_name", "family", "alarm_name")


def build(spec) -> Stack:
    stack = Stack("aws", spec, Path(spec.base_dir) / "out" / "aws")
    AwsBuilder().build(spec, stack)
    return stack


def statements(stack: Stack, policy_id: str) -> list[dict]:
    body = stack.resources["aws_iam_role_policy"][policy_id]
    return json.loads(body["policy"])["Statement"]


def test_one_schedule_per_expression_with_timezone_retries_and_dead_letters(tmp_path):
    spec = aws_app(tmp_path)
    stack = build(spec)
    schedules = stack.resources["aws_scheduler_schedule"]
    expected = sum(len(t.schedules_for("aws")) for t in spec.tasks)
    assert len(schedules) == expected == 4
    digest = sorted(of_task(schedules, "digest_schedule_"), key=lambda s: s["name"])
    assert sorted(s["schedule_expression"] for s in digest) == \
        ["cron(0 0/3 * * ? *)", "cron(30 1/3 * * ? *)"]
    assert all(s["name"].startswith("reports-prod-digest-") for s in digest)
    for s in schedules.values():
        assert s["schedule_expression_timezone"] == "Europe/Berlin"
        assert s["flexible_time_window"] == [{"mode": "OFF"}]
    daily = only(schedules, "daily_report_schedule_")["target"][0]
    assert daily["retry_policy"][0]["maximum_retry_attempts"] == 2
    assert daily["dead_letter_config"] == [{"arn": "${aws_sqs_queue.daily_report_dlq.arn}"}]
    assert "dead_letter_config" not in digest[0]["target"][0]
    assert digest[0]["target"][0]["retry_policy"][0][
        "maximum_retry_attempts"] == 0


def test_python_task_becomes_a_traced_lambda_with_logs_concurrency_and_async_config(tmp_path):
    stack = build(aws_app(tmp_path))
    fn = stack.resources["aws_lambda_function"]["daily_report_function"]
    assert fn["memory_size"] == 1024 and fn["timeout"] == 300
    assert fn["tracing_config"] == [{"mode": "Active"}]
    assert fn["reserved_concurrent_executions"] == 1
    assert fn["handler"] == "flowc_handler.handler"
    assert fn["filename"].startswith("assets/") and fn["source_code_hash"]
    logs = stack.resources["aws_cloudwatch_log_group"]["daily_report_log_group"]
    assert logs["name"] == "/aws/lambda/reports-prod-daily_report"
    assert logs["retention_in_days"] >= 365 and logs["kms_key_id"]
    invoke = stack.resources["aws_lambda_function_event_invoke_config"]
    assert invoke["daily_report_invoke_config"]["maximum_retry_attempts"] == 2
    assert invoke["daily_report_invoke_config"]["destination_config"] == [
        {"on_failure": [{"destination": "${aws_sqs_queue.daily_report_dlq.arn}"}]}]
    assert "destination_config" not in invoke["digest_invoke_config"]
    assert stack.resources["aws_sqs_queue"]["daily_report_dlq"]["sqs_managed_sse_enabled"]


def test_secret_values_reach_the_declared_env_names_and_never_terraform(tmp_path):
    stack = build(aws_app(tmp_path))
    env = stack.resources["aws_lambda_function"]["daily_report_function"]["environment"]
    variables = env[0]["variables"]
    assert variables["FLOWC_SECRET_DB_URL"] == "${aws_secretsmanager_secret.db_url_secret.arn}"
    assert "DB_URL" not in variables
    assert variables["BUCKET"] == "acme-$${reports}"  # a literal, not an interpolation
    assert variables["FLOWC_ENTRYPOINT"] == "jobs.daily:main"
    secrets = stack.resources["aws_secretsmanager_secret"]
    assert sorted(secrets) == ["api_token_secret", "db_url_secret"]  # `unused` is not created
    assert "aws_secretsmanager_secret_version" not in stack.resources
    container = json.loads(
        stack.resources["aws_ecs_task_definition"]["cleanup_ecs_task"]["container_definitions"])
    assert container[0]["secrets"] == [
        {"name": "TOKEN", "valueFrom": "${aws_secretsmanager_secret.api_token_secret.arn}"}]


def test_roles_grant_only_the_tasks_own_resources(tmp_path):
    stack = build(aws_app(tmp_path))
    sched = statements(stack, "daily_report_scheduler_policy")
    invoke = [s for s in sched if "lambda:InvokeFunction" in s["Action"]]
    assert invoke == [{"Sid": "InvokeOwnFunction", "Effect": "Allow",
                       "Action": ["lambda:InvokeFunction"],
                       "Resource": "${aws_lambda_alias.daily_report_alias.arn}"}]
    lam = statements(stack, "daily_report_lambda_policy")
    reads = [s for s in lam if "secretsmanager:GetSecretValue" in s["Action"]]
    assert [r["Resource"] for r in reads] == ["${aws_secretsmanager_secret.db_url_secret.arn}"]
    assert not any("secretsmanager:GetSecretValue" in s["Action"]
                   for s in statements(stack, "digest_lambda_policy"))
    # cleanup (overlap = skip): the scheduler starts its guard, which runs the task
    assert [s["Action"] for s in statements(stack, "cleanup_scheduler_policy")] == [
        ["states:StartExecution"], ["sqs:SendMessage"], ["kms:Decrypt"]]
    ecs = statements(stack, "cleanup_guard_policy")
    run = [s for s in ecs if s["Action"] == ["ecs:RunTask"]]
    assert run[0]["Resource"] == "${aws_ecs_task_definition.cleanup_ecs_task.arn}"
    unscoped = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "ecr:GetAuthorizationToken"}
    # Step Functions' log delivery and X-Ray sampling take no resource; ListTasks is
    # conditioned on the cluster instead
    guard_unscoped = unscoped | {"xray:GetSamplingRules", "xray:GetSamplingTargets",
                                 "ecs:ListTasks"} | {
        f"logs:{a}" for a in ("CreateLogDelivery", "DeleteLogDelivery", "DescribeLogGroups",
                              "DescribeResourcePolicies", "GetLogDelivery",
                              "ListLogDeliveries", "PutResourcePolicy", "UpdateLogDelivery")}
    for policy_id in stack.resources["aws_iam_role_policy"]:
        for s in statements(stack, policy_id):
            if s["Resource"] == "*":
                allowed = guard_unscoped if policy_id.endswith("_guard_policy") else unscoped
                assert set(s["Action"]) <= allowed, (policy_id, s)
                if s["Action"] == ["ecs:ListTasks"]:
                    assert s["Condition"] == {"ArnEquals": {
                        "ecs:cluster": "${aws_ecs_cluster.ecs_cluster.arn}"}}
    assert len([r for r in stack.resources["aws_iam_role"] if r.startswith("digest_")]) == 2


def test_image_task_runs_on_fargate_in_the_environments_subnets(tmp_path):
    spec = aws_app(tmp_path, security_groups=("sg-1",))
    stack = build(spec)
    td = stack.resources["aws_ecs_task_definition"]["cleanup_ecs_task"]
    assert td["requires_compatibilities"] == ["FARGATE"] and td["network_mode"] == "awsvpc"
    assert (td["cpu"], td["memory"]) == ("256", "512")
    assert td["execution_role_arn"] != td["task_role_arn"]
    ecs = only(stack.resources["aws_scheduler_schedule"], "cleanup_schedule_")["target"][0]
    assert ecs["arn"] == "${aws_sfn_state_machine.cleanup_guard.arn}"  # overlap = skip
    params = run_task_parameters(stack)
    assert params["NetworkConfiguration"] == {"AwsvpcConfiguration": {
        "Subnets": ["subnet-0abc"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"}}
    assert params["LaunchType"] == "FARGATE" and params["EnableECSManagedTags"] is True
    rule = stack.resources["aws_cloudwatch_event_rule"]["cleanup_failure_rule"]
    assert json.loads(rule["event_pattern"])["$or"][0]["detail"]["lastStatus"] == ["STOPPED"]
    allowed = dataclasses.replace(spec, tasks=tuple(
        dataclasses.replace(t, overlap="allow") if t.name == "cleanup" else t
        for t in spec.tasks))
    ecs = only(build(allowed).resources["aws_scheduler_schedule"], "cleanup_schedule_")[
        "target"][0]
    params = ecs["ecs_parameters"][0]  # overlap = allow: the schedule runs the task itself
    assert params["network_configuration"] == [
        {"subnets": ["subnet-0abc"], "security_groups": ["sg-1"], "assign_public_ip": False}]
    assert params["launch_type"] == "FARGATE"
    assert ecs["arn"] == "${aws_ecs_cluster.ecs_cluster.arn}"


def run_task_parameters(stack) -> dict:
    """The RunTask Parameters of task `cleanup`'s overlap guard (default VPC subnets as
    the list expression's text)."""
    text = stack.resources["aws_sfn_state_machine"]["cleanup_guard"]["definition"]
    text = text.replace("${jsonencode(data.aws_subnets.default_subnets.ids)}",
                        '"<default subnets>"')
    return json.loads(text)["States"]["Start"]["Branches"][0]["States"]["RunTask"][
        "Parameters"]


def test_image_task_without_subnets_runs_in_the_default_vpc_W403(tmp_path):
    spec = aws_app(tmp_path, subnets=())
    diags = AwsBuilder().check(spec)
    assert [d.code for d in diags] == ["W403"]
    d = diags[0]
    assert "`cleanup`" in d.message and "prod" in d.message and "default VPC" in d.message
    assert "aws { subnets" in d.help and d.span == spec.task("cleanup").span
    stack = build(spec)
    assert run_task_parameters(stack)["NetworkConfiguration"] == {"AwsvpcConfiguration": {
        "Subnets": "<default subnets>", "AssignPublicIp": "ENABLED"}}
    assert stack.data_sources["aws_vpc"]["default_vpc"] == {"default": True}


def test_alerts_aws_cannot_measure_are_reported(tmp_path):
    spec = aws_app(tmp_path)
    cleanup = dataclasses.replace(spec.task("cleanup"), alerts=(
        Alert("duration", ">", 600, ("ops@acme.example",), span(31)),))
    digest = dataclasses.replace(spec.task("digest"), alerts=(
        Alert("dead_letters", ">", 0, ("ops@acme.example",), span(40)),))
    spec = dataclasses.replace(spec, tasks=(spec.tasks[0], cleanup, digest))
    diags = {d.code: d for d in AwsBuilder().check(spec)}
    assert set(diags) == {"E402", "W402"}
    assert diags["E402"].span == span(40) and "on_failure = dead_letter" in diags["E402"].help
    assert diags["W402"].span == span(31) and diags["W402"].help
    spec = dataclasses.replace(spec, tasks=(spec.tasks[0], cleanup))
    stack = build(spec)
    assert "cleanup_alerts" not in stack.resources["aws_sns_topic"]


def test_alerts_become_alarms_on_an_encrypted_topic_with_email(tmp_path):
    stack = build(aws_app(tmp_path))
    alarms = stack.resources["aws_cloudwatch_metric_alarm"]
    daily = [alarms[f"daily_report_alarm_{j}"] for j in range(3)]
    assert [(a["namespace"], a["metric_name"]) for a in daily] == [
        ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Duration"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert daily[1]["threshold"] == 240000  # seconds -> milliseconds
    assert daily[2]["comparison_operator"] == "GreaterThanOrEqualToThreshold"
    assert alarms["cleanup_alarm_0"]["namespace"] == "AWS/Events"
    topic = stack.resources["aws_sns_topic"]["daily_report_alerts"]
    assert topic["kms_master_key_id"] == "${aws_kms_key.kms_key.arn}"
    subs = stack.resources["aws_sns_topic_subscription"]
    assert sorted(s["endpoint"] for k, s in subs.items() if k.startswith("daily_report")) == \
        ["lead@acme.example", "ops@acme.example"]
    assert all(s["protocol"] == "email" for s in subs.values())


def test_every_taggable_resource_carries_the_standard_tags(tmp_path):
    stack = build(aws_app(tmp_path))
    for type_, bodies in stack.resources.items():
        for id_, body in bodies.items():
            if type_ in UNTAGGABLE:
                assert "tags" not in body
                continue
            tags = body["tags"]
            assert tags["app"] == "reports" and tags["managed-by"] == "flowc", (type_, id_)
            assert tags["environment"] == "prod"
            if id_.startswith(("daily_report_", "cleanup_", "digest_")):
                assert id_.startswith(tags["task"] + "_")


def test_fargate_sizes_round_up_to_a_valid_combination(tmp_path):
    assert fargate_size(None, 512) == (256, 512)
    assert fargate_size(None, 3000) == (512, 3072)
    assert fargate_size(0.5, 512) == (512, 1024)
    assert fargate_size(2, 2048) == (2048, 4096)
    valid = {(c, m) for c, ms in FARGATE_SIZES for m in ms}
    for cpu in (None, 0.25, 1, 3, 16):
        for mem in (128, 700, 5000, 40000, 200000):
            assert fargate_size(cpu, mem) in valid
    spec = aws_app(tmp_path)
    odd = dataclasses.replace(spec.task("cleanup"), memory_mib=3000)
    spec = dataclasses.replace(spec, tasks=(odd,))
    stack = build(spec)
    assert [d.code for d in stack.diagnostics] == ["W401"]
    td = stack.resources["aws_ecs_task_definition"]["cleanup_ecs_task"]
    assert (td["cpu"], td["memory"]) == ("512", "3072")


TASK_NAME = st.from_regex(r"[a-z][a-z0-9_]{0,90}", fullmatch=True)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(TASK_NAME, min_size=1, max_size=6, unique=True),
       env=st.sampled_from([None, "prod", "staging_with_a_rather_long_environment_name"]))
def test_any_task_names_give_unique_ids_and_names_within_aws_limits(tmp_path, names, env):
    base = aws_app(tmp_path)
    tasks = []
    for i, name in enumerate(names):
        handler = ImageHandler("busybox") if i % 2 else PythonHandler("jobs.digest", "main")
        tasks.append(task(name, handler, ["cron(0 9 * * ? *)", "cron(0 10 * * ? *)"],
                          on_failure="dead_letter",
                          alerts=(Alert("errors", ">", 0, ("a@b.example",)),)))
    spec = dataclasses.replace(base, tasks=tuple(tasks), environment=env,
                               settings={"aws": AwsSettings(subnets=("subnet-1",))})
    stack = build(spec)  # raises on any duplicate Terraform id
    seen: dict[str, set[str]] = {}
    for type_, bodies in stack.resources.items():
        for body in bodies.values():
            for field in NAME_FIELDS:
                value = body.get(field)
                if (isinstance(value, str) and not value.startswith(("/", "${"))
                        and type_ not in SCOPED_NAMES):
                    limit = 64 if type_ != "aws_cloudwatch_metric_alarm" else 255
                    assert len(value) <= limit, (type_, value)
                    assert value not in seen.setdefault(type_, set()), (type_, value)
                    seen[type_].add(value)
    assert len(stack.resources["aws_scheduler_schedule"]) == 2 * len(names)
