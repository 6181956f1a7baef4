"""What `terraform plan` would do, per flowc task: for `flowc up --plan` and the question
`flowc up` asks on a terminal.

Each planned resource change is given to its owner: the task or secret the compiled
document says it belongs to (blame.owner), else, for a resource the new document no
longer has (a removed task), the `task` tag it carries in the Terraform state, else
"shared" (the KMS key, the schedule group, ...).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowc.compiler.ir import App
from flowc.deploy.blame import owner
from flowc.deploy.inventory import state_resources
from flowc.deploy.terraform import Result

ACTIONS = {"create": "added", "update": "changed", "replace": "replaced",
           "delete": "destroyed"}  # fmt: skip
COLUMNS = tuple(ACTIONS.values())
SYMBOLS = {"create": "+", "update": "~", "replace": "±", "delete": "-"}


@dataclass
class Plan:
    # owner ("task x", "secret y", "shared") -> [(terraform action, resource address)]
    changes: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self, who: str) -> dict[str, int]:
        found = {column: 0 for column in COLUMNS}
        for action, _ in self.changes[who]:
            found[ACTIONS[action]] += 1
        return found


def _state_tags(workdir: Path) -> dict[str, str]:
    """resource address -> the `task` tag it has in the Terraform state."""
    out = {}
    for res in state_resources(workdir):
        tags = res["attributes"].get("tags") or {}
        if isinstance(tags, dict) and tags.get("task"):
            out[f"{res['type']}.{res['name']}"] = tags["task"]
    return out


def summarise(app: App, doc: dict[str, Any], result: Result, workdir: Path) -> Plan:
    tagged = _state_tags(workdir)
    changes: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for address, action in sorted(result.planned.items()):
        if action not in ACTIONS:
            continue  # reads of data sources, no-ops
        who = owner(app, doc, address)
        if who is not None:
            label = f"{who[0]} {who[1]}"
        else:
            task = tagged.get(re.sub(r"\[[^\]]*\]", "", address))
            label = f"task {task}" if task else "shared"
        changes[label].append((action, address))
    ordered = sorted(changes, key=lambda w: (w == "shared", w))
    return Plan({w: changes[w] for w in ordered})


def render(plan: Plan, title: str) -> Any:
    """A rich Table: one row per owner with its counts, then its resources."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("belongs to")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    table.add_column("resources", overflow="fold")
    for who in plan.changes:
        counts = plan.counts(who)
        resources = "\n".join(f"{SYMBOLS[a]} {addr}" for a, addr in plan.changes[who])
        table.add_row(who, *(str(counts[c]) if counts[c] else "" for c in COLUMNS), resources)
    return table
