"""The embedded AWS emulator: `python -m flowc.deploy.moto_server` is moto's server plus
what moto 5 lacks for the resources flowc compiles.

Application Auto Scaling (`aws_appautoscaling_target`, services' `scale_on`): moto has no
tag API for it, and the AWS provider lists a scalable target's tags on every read, so no
target could be created. Here RegisterScalableTarget keeps the `Tags` it is given and
ListTagsForResource, TagResource and UntagResource answer from them, in memory, as AWS
does. Everything else is moto's own.
"""

from __future__ import annotations

import json
import sys

from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
from moto.server import main

_TAGS: dict[str, dict[str, str]] = {}  # scalable target ARN -> its tags
_register = ApplicationAutoScalingResponse.register_scalable_target


def _register_keeping_tags(self: ApplicationAutoScalingResponse) -> str:
    answer = _register(self)
    _TAGS.setdefault(json.loads(answer)["ScalableTargetARN"], {}).update(
        self._get_param("Tags") or {})
    return answer


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


def install() -> None:
    """Teach moto's Application Auto Scaling responses the tag API (idempotent)."""
    cls = ApplicationAutoScalingResponse
    cls.register_scalable_target = _register_keeping_tags  # type: ignore[method-assign]
    cls.list_tags_for_resource = _list_tags_for_resource  # type: ignore[attr-defined]
    cls.tag_resource = _tag_resource  # type: ignore[attr-defined]
    cls.untag_resource = _untag_resource  # type: ignore[attr-defined]


if __name__ == "__main__":
    install()
    main(sys.argv[1:])
