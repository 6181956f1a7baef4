"""The embedded AWS emulator: `python -m flowc.deploy.moto_server` is moto's server plus
what moto 5 lacks for the resources flowc compiles.

Application Auto Scaling (`aws_appautoscaling_target`, services' `scale_on`): moto has no
tag API for it, and the AWS provider lists a scalable target's tags on every read, so no
target could be created. Here RegisterScalableTarget keeps the `Tags` it is given and
ListTagsForResource, TagResource and UntagResource answer from them, in memory, as AWS
does. A scaling policy put again (the provider's retry of a call moto had already
served, on a loaded machine) replaces moto's policy but left the first one's two
CloudWatch alarms behind, so `flowc down` left alarms in the cloud: here the replaced
policy's alarms are deleted, as AWS does.

Step Functions (`aws_sfn_state_machine`, image tasks' overlap guards): the AWS provider
validates a definition (ValidateStateMachineDefinition) before creating the state machine
and lists its versions (ListStateMachineVersions) on every read, neither of which moto
serves. Here moto's own Amazon States Language parser (the one its executions run on)
answers the first: OK, or FAIL with the parser's message; the second lists the versions
moto keeps (none: flowc does not publish versions).
Everything else is moto's own.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from moto.applicationautoscaling.models import (
    ApplicationAutoscalingBackend,
    FakeApplicationAutoscalingPolicy,
)
from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.server import main
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.responses import StepFunctionResponse

_TAGS: dict[str, dict[str, str]] = {}  # scalable target ARN -> its tags
_register = ApplicationAutoScalingResponse.register_scalable_target
_put_policy = ApplicationAutoscalingBackend.put_scaling_policy


def _register_keeping_tags(self: ApplicationAutoScalingResponse) -> str:
    answer = _register(self)
    _TAGS.setdefault(json.loads(answer)["ScalableTargetARN"], {}).update(
        self._get_param("Tags") or {})
    return answer


def _put_policy_replacing_alarms(self: ApplicationAutoscalingBackend, policy_name: str,
                                 service_namespace: str, resource_id: str,
                                 scalable_dimension: str, *args: Any, **kwargs: Any) -> Any:
    key = FakeApplicationAutoscalingPolicy.formulate_key(
        service_namespace, resource_id, scalable_dimension, policy_name)
    replaced = self.policies.get(key)
    policy = _put_policy(self, policy_name, service_namespace, resource_id,
                         scalable_dimension, *args, **kwargs)
    if replaced is not None and replaced is not policy:
        replaced.delete_alarms(self.account_id, self.region_name)
    return policy


def _list_tags_for_resource(self: ApplicationAutoScalingResponse) -> str:
    return json.dumps({"Tags": _TAGS.get(self._get_param("ResourceARN"), {})})


def _tag_resource(self: ApplicationAutoScalingResponse) -> str:
    _TAGS.setdefault(self._get_param("ResourceARN"), {}).update(self._get_param("Tags") or {})
    return "{}"


def _untag_resource(self: ApplicationAutoScalingResponse) -> str:
    tags = _TAGS.get(self._get_param("ResourceARN"), {})
    for key in self._get_param("TagKeys") or []:
        tags.pop(key, None)
    return "{}"


def _validate_state_machine_definition(self: StepFunctionResponse) -> str:
    try:
        AmazonStateLanguageParser.parse(self._get_param("definition"))
    except Exception as error:  # the parser's own errors are of several kinds
        return json.dumps({"result": "FAIL", "truncated": False, "diagnostics": [
            {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(error)}]})
    return json.dumps({"result": "OK", "diagnostics": [], "truncated": False})


def _list_state_machine_versions(self: StepFunctionResponse) -> str:
    machine = self.stepfunction_backend.describe_state_machine(
        self._get_param("stateMachineArn"))
    return json.dumps({"stateMachineVersions": [
        {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
        for _, v in sorted(machine.versions.items(), reverse=True)]}, default=str)


def install() -> None:
    """Teach moto's Application Auto Scaling the tag API and to delete a replaced policy's
    alarms, and its Step Functions responses definition validation (idempotent)."""
    StepFunctionResponse.validate_state_machine_definition = (  # type: ignore[attr-defined]
        _validate_state_machine_definition)
    StepFunctionResponse.list_state_machine_versions = (  # type: ignore[attr-defined]
        _list_state_machine_versions)
    ApplicationAutoscalingBackend.put_scaling_policy = (  # type: ignore[method-assign]
        _put_policy_replacing_alarms)
    cls = ApplicationAutoScalingResponse
    cls.register_scalable_target = _register_keeping_tags  # type: ignore[method-assign]
    cls.list_tags_for_resource = _list_tags_for_resource  # type: ignore[attr-defined]
    cls.tag_resource = _tag_resource  # type: ignore[attr-defined]
    cls.untag_resource = _untag_resource  # type: ignore[attr-defined]


if __name__ == "__main__":
    install()
    main(sys.argv[1:])
