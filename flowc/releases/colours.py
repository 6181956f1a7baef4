"""Blue/green and canary releases of AWS image services: the state machine.

Such a service (an image service with a port, `release { strategy = blue_green }` or
`canary N% for D`) has two colours, blue and green: each an ECS service with its own task
definition and target group, both running, and a listener rule that forwards to the two
by weight. A task definition is known by `definition_hash(body)` (its `flowc-definition`
tag); the release log keeps each body it emitted, so a colour can keep running what it
runs while the other one gets the new definition, without replacing either ECS service.

`decide()` turns what is deployed (read from the Terraform state, flowc/releases/state.py,
kept in the log, flowc/releases/log.py) and the definition this compile emits into what
each colour runs and the weights:

- nothing known (first deploy, or a remote backend): both colours get the new definition,
  blue takes all traffic; when the log knew an earlier definition that is W711 (it rolls);
- the live colour (the higher weight) already runs it: keep everything, live takes 100;
- the other colour runs it: blue_green -> it takes 100; canary -> it takes N until `for`
  has passed since flowc first saw the split deployed, then 100 (on the next compile/up);
- neither: it goes to the colour that is not live (replacing whatever that one ran, e.g.
  an earlier canary); blue_green -> that colour takes 100 (the listener rule waits for its
  ECS service to be steady); canary -> N there, 100 - N on the live one;
- `flowc rollback` pinned the other colour: it keeps 100 while the spec still says what
  was rolled away from; a new definition is a new release onto the colour not live.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowc.compiler.ir import ImageHandler, Service

COLOURS = ("blue", "green")
DEFINITION_TAG = "flowc-definition"
STRATEGIES = ("blue_green", "canary")  # the strategies that get two colours


def has_colours(service: Service) -> bool:
    """An image service with a port released blue_green or canary (on AWS: two colours)."""
    return (isinstance(service.handler, ImageHandler) and service.port is not None
            and service.release.strategy in STRATEGIES)


def definition_hash(body: dict[str, Any]) -> str:
    """A task definition body's identity (without its tags, which carry the hash)."""
    data = {k: v for k, v in body.items() if k not in ("tags", "//")}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class ServiceHistory:
    """What the release log knows of one service in one deployment (flowc.releases.plan).

    deployed: colour -> definition hash as the Terraform state shows it (None: no state);
    definitions: hash -> body, the log's dict: the AWS builder adds the one it emits, so a
    later compile can keep a colour on it; pin: `{"colour", "from"}` after `flowc rollback`.
    """

    deployed: dict[str, str] | None = None
    weights: dict[str, int] = field(default_factory=dict)
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    canary_since: datetime | None = None
    pin: dict[str, str] | None = None
    now: datetime | None = None


@dataclass(frozen=True)
class Rollout:
    definitions: dict[str, str]  # colour -> definition hash that colour runs
    weights: dict[str, int]  # colour -> listener weight (percent)
    note: str | None = None  # why the release cannot keep a colour serving (W711)


def live_colour(weights: dict[str, int]) -> str:
    """The colour with the larger weight (blue on a tie, or when nothing is known)."""
    return max(COLOURS, key=lambda c: weights.get(c, 0))


def other(colour: str) -> str:
    return COLOURS[1] if colour == COLOURS[0] else COLOURS[0]


def decide(strategy: str, canary_percent: float | None, canary_for_s: int | None,
           current: str, history: ServiceHistory | None) -> Rollout:
    """What each colour runs and the weights in this compile (see module doc)."""
    deployed = history.deployed if history is not None else None
    if not deployed or any(c not in deployed for c in COLOURS):
        earlier = history is not None and any(h != current for h in history.definitions)
        return Rollout({c: current for c in COLOURS}, {COLOURS[0]: 100, COLOURS[1]: 0},
                       "no_state" if earlier else None)
    assert history is not None
    live = live_colour(history.weights)
    idle = other(live)
    known = {current, *history.definitions}
    if deployed[live] not in known:  # the log lost the live body: it cannot be kept
        return Rollout({c: current for c in COLOURS}, {live: 100, idle: 0}, "no_definition")
    kept = deployed[idle] if deployed[idle] in known else current
    pin = history.pin
    if pin is not None and pin.get("from") == current and deployed[pin["colour"]] in known:
        colours = {live: deployed[live], idle: kept}
        return Rollout(colours, {pin["colour"]: 100, other(pin["colour"]): 0})
    if deployed[live] == current:
        return Rollout({live: current, idle: kept}, {live: 100, idle: 0})
    if strategy == "canary" and canary_percent is not None:
        share = max(1, min(99, round(canary_percent)))
        if deployed[idle] == current and history.canary_since is not None \
                and history.now is not None \
                and history.now >= history.canary_since + timedelta(seconds=canary_for_s or 0):
            share = 100  # the canary ran its course: promote
    else:
        share = 100
    return Rollout({live: deployed[live], idle: current}, {live: 100 - share, idle: share})
