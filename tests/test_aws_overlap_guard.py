"""`overlap = skip` for image tasks on AWS: the Step Functions guard between the schedule and
ECS (flowc/targets/aws/overlap_guard.py): its compiled definition and IAM, Terraform's
view of it, and real executions of the compiled definition in moto's Step Functions
interpreter against moto's ECS."""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path

import pytest

from flowc.compiler.pipeline import load
from flowc.targets.compile import compile_app
from tests.aws_support import terraform_validate

SPEC = """\
app jobs

task sweep {{
  image    = "busybox:1.36"
  schedule = cron("*/5 * * * *")
  retries  = 2
  catch_up = 2m
  on_failure = dead_letter
{extra}}}
"""
DEFAULT_SUBNETS = "${jsonencode(data.aws_subnets.default_subnets.ids)}"


def compiled(tmp_path: Path, extra: str = "") -> dict:
    (tmp_path / "app.flow").write_text(SPEC.format(extra=extra))
    loaded = load(tmp_path / "app.flow", None)
    assert loaded.ok, [d.message for d in loaded.diagnostics]
    results = compile_app(loaded.app, ["aws"], tmp_path / "out")
    assert not any(d.is_error for d in results[0].diagnostics), results[0].diagnostics
    return json.loads((tmp_path / "out" / "aws" / "cdk.tf.json").read_text())


def definition_of(doc: dict, subnets: str = '["subnet-x"]') -> dict:
    text = doc["resource"]["aws_sfn_state_machine"]["sweep_guard"]["definition"]
    return json.loads(text.replace(DEFAULT_SUBNETS, subnets))


def policy(doc: dict, name: str) -> dict[str, dict]:
    body = json.loads(doc["resource"]["aws_iam_role_policy"][name]["policy"])
    return {s["Sid"]: s for s in body["Statement"]}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("guard")
    return tmp / "out" / "aws", compiled(tmp)


def test_the_schedule_starts_the_guard_which_lists_then_runs_the_task(guarded):
    _, doc = guarded
    schedule = next(iter(doc["resource"]["aws_scheduler_schedule"].values()))
    target = schedule["target"][0]
    assert target["arn"] == "${aws_sfn_state_machine.sweep_guard.arn}"
    assert "ecs_parameters" not in target
    assert json.loads(target["input"]) == {"flowc": {"fire": "<aws.scheduler.scheduled-time>",
                                                     "polls_left": 8}}  # 2m / 15 s
    assert target["dead_letter_config"] == [{"arn": "${aws_sqs_queue.sweep_dlq.arn}"}]
    machine = doc["resource"]["aws_sfn_state_machine"]["sweep_guard"]
    assert machine["type"] == "STANDARD"
    assert machine["tracing_configuration"] == [{"enabled": True}]
    assert machine["logging_configuration"][0]["level"] == "ALL"
    states = definition_of(doc)["States"]
    assert definition_of(doc)["StartAt"] == "FindRunning"
    assert states["FindRunning"]["Resource"] == "arn:aws:states:::aws-sdk:ecs:listTasks"
    assert states["FindRunning"]["Parameters"] == {
        "Cluster": "${aws_ecs_cluster.ecs_cluster.arn}", "DesiredStatus": "RUNNING",
        "Family": "jobs-sweep"}
    run = states["Start"]["Branches"][0]["States"]["RunTask"]
    assert run["Resource"] == "arn:aws:states:::aws-sdk:ecs:runTask"
    assert run["Parameters"]["TaskDefinition"] == "${aws_ecs_task_definition.sweep_ecs_task.arn}"
    assert run["Parameters"]["NetworkConfiguration"] == {"AwsvpcConfiguration": {
        "AssignPublicIp": "ENABLED", "Subnets": ["subnet-x"]}}  # W403: the default VPC
    assert states["Start"]["Retry"][0]["MaxAttempts"] == 2  # `retries`, as the scheduler's
    # every path ends: each Next names a state, and only Succeed/Fail/End states end
    for body in [*states.values(), *states["Start"]["Branches"][0]["States"].values()]:
        nexts = [body.get("Next"), body.get("Default"),
                 *(c["Next"] for c in body.get("Choices", []))]
        assert all(n in states or n in states["Start"]["Branches"][0]["States"]
                   for n in nexts if n), body
        assert any(nexts) or body.get("End") or body["Type"] in ("Succeed", "Fail"), body


def test_iam_scheduler_may_only_start_the_guard_which_may_only_run_its_own_task(guarded):
    _, doc = guarded
    assert set(policy(doc, "sweep_scheduler_policy")) == {
        "StartOwnGuard", "DeadLetterOwnQueue", "DecryptScheduleWithAppKey"}
    assert policy(doc, "sweep_scheduler_policy")["StartOwnGuard"]["Resource"] == \
        "${aws_sfn_state_machine.sweep_guard.arn}"
    guard = policy(doc, "sweep_guard_policy")
    cluster = {"ArnEquals": {"ecs:cluster": "${aws_ecs_cluster.ecs_cluster.arn}"}}
    assert guard["ListTasksInCluster"]["Condition"] == cluster
    assert guard["RunOwnTaskDefinition"]["Condition"] == cluster
    assert guard["RunOwnTaskDefinition"]["Resource"] == \
        "${aws_ecs_task_definition.sweep_ecs_task.arn}"
    assert guard["PassOwnTaskRoles"]["Resource"] == [
        "${aws_iam_role.sweep_exec_role.arn}", "${aws_iam_role.sweep_task_role.arn}"]
    assert guard["ListOwnExecutions"]["Resource"].endswith(":stateMachine:jobs-sweep-guard")
    # a start that still fails after the retries fails the execution: the failure rule
    rule = json.loads(doc["resource"]["aws_cloudwatch_event_rule"]["sweep_failure_rule"]
                      ["event_pattern"])
    states = [p for p in rule["$or"] if p["source"] == ["aws.states"]]
    assert states[0]["detail"]["stateMachineArn"] == ["${aws_sfn_state_machine.sweep_guard.arn}"]


def test_guard_in_the_default_vpc_is_valid_terraform(guarded, tmp_path):
    workdir, _ = guarded
    report = terraform_validate(workdir, tmp_path)
    assert report["valid"], json.dumps(report["diagnostics"], indent=2)


def test_overlap_allow_keeps_the_direct_ecs_target(tmp_path):
    doc = compiled(tmp_path, "  overlap = allow\n")
    assert "aws_sfn_state_machine" not in doc["resource"]
    target = next(iter(doc["resource"]["aws_scheduler_schedule"].values()))["target"][0]
    assert target["arn"] == "${aws_ecs_cluster.ecs_cluster.arn}" and target["ecs_parameters"]


# -- executions: moto runs the compiled definition against its ECS ----------------------

@pytest.fixture
def sdk_casing(monkeypatch):
    """moto 5.2's Step Functions interpreter hands an aws-sdk Task's PascalCase Parameters
    to boto3 as written and its camelCase answer back; AWS (and LocalStack, whose
    interpreter moto's is) map both to the API's names by its model: do the same here."""
    from botocore.session import Session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as sdk,
    )
    from moto.stepfunctions.parser.utils import camel_to_snake_case

    models = Session()

    def operation(self):
        service = models.get_service_model(self._get_boto_service_name())
        action = self._get_boto_service_action()
        return next(service.operation_model(name) for name in service.operation_names
                    if camel_to_snake_case(name) == action)

    monkeypatch.setattr(sdk.StateTaskServiceAwsSdk, "_normalise_parameters",
                        lambda self, parameters, *_: self._to_boto_request(
                            parameters, operation(self).input_shape))
    monkeypatch.setattr(sdk.StateTaskServiceAwsSdk, "_normalise_response",
                        lambda self, response, *_: self._from_boto_response(
                            response, operation(self).output_shape))


@contextlib.contextmanager
def moto_world(definition: dict, running_before: int = 0):
    """moto with Step Functions executing: the app's cluster, the task's family with
    `running_before` tasks running, and the guard created from `definition`. Yields
    (ecs client, sfn client, cluster ARN, state machine ARN)."""
    import boto3
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        ecs = boto3.client("ecs", region_name="us-east-1")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        iam = boto3.client("iam", region_name="us-east-1")
        cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
        task_def = ecs.register_task_definition(
            family="jobs-sweep", networkMode="bridge",
            cpu="256", memory="512", containerDefinitions=[{  # moto sums containers' sizes
                "name": "sweep", "image": "busybox:1.36", "cpu": 256, "memory": 512}],
        )["taskDefinition"]["taskDefinitionArn"]
        for _ in range(running_before):
            ecs.run_task(cluster=cluster, taskDefinition=task_def, launchType="FARGATE")
        role = iam.create_role(RoleName="guard", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        text = json.dumps(definition)
        text = text.replace("${aws_ecs_cluster.ecs_cluster.arn}", cluster)
        text = text.replace("${aws_ecs_task_definition.sweep_ecs_task.arn}", task_def)
        machine = sfn.create_state_machine(name="jobs-sweep-guard", definition=text,
                                           roleArn=role)["stateMachineArn"]
        yield ecs, sfn, cluster, machine


def fire(sfn, machine: str, name: str, polls_left: int) -> str:
    """Start one execution as the schedule would (EventBridge names each one)."""
    return sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(
        {"flowc": {"fire": "2026-11-30T21:00:00Z", "polls_left": polls_left}}))[
        "executionArn"]


def ended(sfn, arn: str) -> dict:
    deadline = time.monotonic() + 30
    while (ex := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not end"
        time.sleep(0.1)
    return ex


def stop_all(ecs, cluster: str) -> None:
    for task in ecs.list_tasks(cluster=cluster)["taskArns"]:
        ecs.stop_task(cluster=cluster, task=task)


def running_tasks(ecs, cluster: str) -> list[str]:
    return ecs.list_tasks(cluster=cluster, family="jobs-sweep",
                          desiredStatus="RUNNING")["taskArns"]


def _execute(definition: dict, running_before: int, polls_left: int,
             end_runs_after_s: float | None = None) -> tuple[dict, int]:
    """Run one execution of `definition` with `running_before` tasks of the family already
    running (stopped `end_runs_after_s` into the execution); returns (the execution's
    output, tasks running afterwards)."""
    with moto_world(definition, running_before) as (ecs, sfn, cluster, machine):
        arn = fire(sfn, machine, "only", polls_left)
        if end_runs_after_s is not None:
            time.sleep(end_runs_after_s)
            stop_all(ecs, cluster)
        ex = ended(sfn, arn)
        assert ex["status"] == "SUCCEEDED", ex
        return json.loads(ex["output"]), len(running_tasks(ecs, cluster))


@pytest.fixture(scope="module")
def fast_definition(guarded) -> dict:
    """The compiled definition with its polls 0 s apart (the test must not wait 15 s)."""
    _, doc = guarded
    body = definition_of(doc)
    body["States"]["Wait"]["Seconds"] = 0
    run = body["States"]["Start"]["Branches"][0]["States"]["RunTask"]["Parameters"]
    # moto 5.2's RunTask fails on any awsvpc network (it cannot describe the ENI it makes):
    # the test's task definition uses bridge networking instead
    del run["NetworkConfiguration"]
    return body


def test_execution_with_nothing_running_starts_one_task(fast_definition, sdk_casing):
    _, running = _execute(fast_definition, running_before=0, polls_left=2)
    assert running == 1


def test_execution_during_a_run_waits_its_polls_then_is_skipped(fast_definition, sdk_casing):
    out, running = _execute(fast_definition, running_before=1, polls_left=2)
    assert running == 1  # no second task
    assert out["flowc"] == "skipped" and out["reason"] == "overlap"
    assert out["fire"] == "2026-11-30T21:00:00Z" and len(out["running"]) == 1
    assert re.match(r"arn:aws:ecs:", out["running"][0])



def test_execution_during_a_run_starts_the_task_when_the_run_ends(fast_definition, sdk_casing):
    body = json.loads(json.dumps(fast_definition))
    body["States"]["Wait"]["Seconds"] = 1
    out, running = _execute(body, running_before=1, polls_left=10, end_runs_after_s=1.5)
    assert running == 1 and "flowc" not in out.get("started", {})  # started, not skipped
    assert len(out["started"][0]["tasks"]) == 1


# -- overlap = replace ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def replacing(tmp_path_factory) -> dict:
    return compiled(tmp_path_factory.mktemp("replace"), "  overlap = replace\n")


def test_replace_is_done_on_aws_by_the_guard_and_refused_on_gcp(tmp_path):
    from flowc.targets.rules import target_rules

    (tmp_path / "app.flow").write_text(SPEC.format(extra="  overlap = replace\n"))
    rules = target_rules(load(tmp_path / "app.flow", None).app)
    assert "E470" not in [d.code for d in rules.get("aws", [])] and "E470" in [
        d.code for d in rules["gcp"]]


def test_replace_stops_the_runs_in_flight_which_are_not_failures(replacing):
    states = definition_of(replacing)["States"]
    assert states["Running?"]["Choices"][0]["Next"] == "StopRunning" and "Hold" not in states
    stop = states["StopRunning"]["ItemProcessor"]["States"]["StopTask"]
    assert stop["Resource"] == "arn:aws:states:::aws-sdk:ecs:stopTask"
    guard = policy(replacing, "sweep_guard_policy")
    assert guard["StopTasksInCluster"]["Resource"].endswith(
        ":task/${aws_ecs_cluster.ecs_cluster.name}/*") and "ListOwnExecutions" not in guard
    rule = json.loads(replacing["resource"]["aws_cloudwatch_event_rule"]["sweep_failure_rule"]
                      ["event_pattern"])
    assert rule["$or"][0]["detail"]["stoppedReason"] == [
        {"anything-but": stop["Parameters"]["Reason"]}]
    schedule = next(iter(replacing["resource"]["aws_scheduler_schedule"].values()))
    assert json.loads(schedule["target"][0]["input"]) == {
        "flowc": {"fire": "<aws.scheduler.scheduled-time>"}}


def test_replace_execution_stops_the_run_in_flight_and_starts_one(replacing, sdk_casing):
    body = definition_of(replacing)
    del body["States"]["Start"]["Branches"][0]["States"]["RunTask"]["Parameters"][
        "NetworkConfiguration"]  # as in fast_definition: moto cannot make the ENI
    out, running = _execute(body, running_before=1, polls_left=0)
    assert running == 1 and len(out["replaced"]) == 1
    assert out["replaced"][0]["stopped"] not in out["started"][0]["tasks"]


def test_embedded_server_validates_definitions_with_motos_parser(guarded):
    """`flowc up`'s moto answers what the provider asks of a state machine and moto lacks:
    ValidateStateMachineDefinition and ListStateMachineVersions."""
    import boto3
    from moto import mock_aws

    from flowc.deploy import moto_server

    moto_server.install()
    _, doc = guarded
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        ok = sfn.validate_state_machine_definition(definition=json.dumps(definition_of(doc)))
        assert ok["result"] == "OK" and ok["diagnostics"] == []
        bad = sfn.validate_state_machine_definition(definition=json.dumps(
            {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": "x", "End": True}}}))
        assert bad["result"] == "FAIL" and bad["diagnostics"][0]["severity"] == "ERROR"
        role = "arn:aws:iam::123456789012:role/guard"
        machine = sfn.create_state_machine(name="m", definition=json.dumps(definition_of(doc)),
                                           roleArn=role)["stateMachineArn"]
        assert sfn.list_state_machine_versions(stateMachineArn=machine)[
            "stateMachineVersions"] == []


def test_only_the_latest_held_fire_waits(fast_definition, sdk_casing):
    body = json.loads(json.dumps(fast_definition))
    body["States"]["Wait"]["Seconds"] = 1
    with moto_world(body, running_before=1) as (ecs, sfn, cluster, machine):
        older = fire(sfn, machine, "older", polls_left=20)
        time.sleep(0.5)
        newer = fire(sfn, machine, "newer", polls_left=20)
        first = ended(sfn, older)  # its next poll finds `newer` waiting too
        assert json.loads(first["output"])["reason"] == "superseded"
        stop_all(ecs, cluster)
        second = ended(sfn, newer)
        assert second["status"] == "SUCCEEDED" and "started" in json.loads(second["output"])
        assert len(running_tasks(ecs, cluster)) == 1


def test_a_start_that_keeps_failing_is_retried_then_fails_the_execution(fast_definition,
                                                                       sdk_casing):
    """`retries = 2`: three RunTask attempts, then the execution fails (the failure rule
    sends that to the dead-letter queue)."""
    body = json.loads(json.dumps(fast_definition))
    body["States"]["Start"]["Retry"][0]["IntervalSeconds"] = 1  # not 30 s in a test
    run = body["States"]["Start"]["Branches"][0]["States"]["RunTask"]["Parameters"]
    run["TaskDefinition"] = "arn:aws:ecs:us-east-1:123456789012:task-definition/gone:1"
    with moto_world(body) as (ecs, sfn, cluster, machine):
        ex = ended(sfn, fire(sfn, machine, "failing", polls_left=2))
        assert ex["status"] == "FAILED"
        events = sfn.get_execution_history(executionArn=ex["executionArn"],
                                           maxResults=1000)["events"]
        attempts = [e for e in events if e["type"] == "TaskScheduled"
                    and e["taskScheduledEventDetails"]["resource"] == "runTask"]
        assert len(attempts) == 3 and running_tasks(ecs, cluster) == []


def _matches(pattern: str, source: str, detail_type: str, detail: dict) -> bool:
    """Whether an event matches, by moto's EventBridge pattern engine (the one its rules
    route with; moto 5.2 leaves the TestEventPattern API empty)."""
    from moto.events.models import EventPattern

    return EventPattern.load(pattern).matches_event({
        "id": "1", "account": "123456789012", "source": source,
        "time": "2026-11-30T21:00:00Z", "region": "us-east-1", "resources": [],
        "detail-type": detail_type, "detail": detail})


@pytest.mark.parametrize("doc_fixture", ["guarded", "replacing"])
def test_the_failure_rule_takes_failed_runs_and_executions_not_replaced_runs(
        doc_fixture, request):
    doc = request.getfixturevalue(doc_fixture)
    doc = doc[1] if isinstance(doc, tuple) else doc
    pattern = doc["resource"]["aws_cloudwatch_event_rule"]["sweep_failure_rule"][
        "event_pattern"]
    cluster, task_def, machine = "arn:c", "arn:td", "arn:sm"
    pattern = (pattern.replace("${aws_ecs_cluster.ecs_cluster.arn}", cluster)
               .replace("${aws_ecs_task_definition.sweep_ecs_task.arn}", task_def)
               .replace("${aws_sfn_state_machine.sweep_guard.arn}", machine))

    def stopped(exit_code: int, reason: str) -> bool:
        # ECS sends `containers` as a list, which EventBridge looks into; moto's engine
        # does not, so the one container is given as an object here
        return _matches(pattern, "aws.ecs", "ECS Task State Change", {
            "clusterArn": cluster, "taskDefinitionArn": task_def, "lastStatus": "STOPPED",
            "stopCode": "EssentialContainerExited", "stoppedReason": reason,
            "containers": {"exitCode": exit_code}})

    def execution(status: str) -> bool:
        return _matches(pattern, "aws.states", "Step Functions Execution Status Change",
                        {"stateMachineArn": machine, "status": status})

    assert stopped(1, "Essential container in task exited") is True
    assert stopped(0, "Essential container in task exited") is False
    assert execution("FAILED") is True and execution("TIMED_OUT") is True
    assert execution("SUCCEEDED") is False  # skipped fires succeed: never dead-lettered
    replaced = stopped(143, "flowc: replaced by a newer fire (overlap = replace)")
    assert replaced is (doc_fixture == "guarded")  # under replace it is not a failure


def test_retries_double_up_to_5_minutes_and_end_by_max_age(tmp_path):
    """`retries` may be up to 185 on aws: the waits stop doubling at 5 minutes and an
    execution still retrying `max_age` after the fire times out (and is dead-lettered)."""
    import dataclasses

    from flowc.targets.aws.overlap_guard import definition

    (tmp_path / "app.flow").write_text(SPEC.format(extra=""))
    task = load(tmp_path / "app.flow", None).app.task("sweep")

    def timeout_and_retry(**changes) -> tuple[int, dict]:
        body = definition(dataclasses.replace(task, **changes), "c", "f", {})
        return body["TimeoutSeconds"], body["States"]["Start"]["Retry"][0]

    held = 8 * 15  # catch_up = 2m: 8 polls 15 s apart
    assert timeout_and_retry(retries=2) == (held + 30 + 60 + 600, {
        "ErrorEquals": ["States.ALL"], "IntervalSeconds": 30, "BackoffRate": 2.0,
        "MaxDelaySeconds": 300, "MaxAttempts": 2})
    assert timeout_and_retry(retries=185)[0] == held + 6 * 3600 + 600  # the default max_age
    assert timeout_and_retry(retries=185, max_age_s=3600)[0] == held + 3600 + 600
    assert timeout_and_retry(retries=5)[0] == held + 30 + 60 + 120 + 240 + 300 + 600
