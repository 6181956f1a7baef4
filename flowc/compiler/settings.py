"""Task settings as `defaults { }` and `environment NAME { }` give them, before resolution.

A task's value for a setting comes from the task, else the selected environment, else
`defaults { }`, else the setting's built-in default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowc.grammar import syntax as s


@dataclass
class SettingsLayer:
    """Settings one `defaults`/`environment` block gives, as syntax nodes by key.

    (Not `ir.Layer`, which is a `layer NAME { }` of shared dependencies.)
    """

    settings: dict[str, s.Assign | s.Block] = field(default_factory=dict)
