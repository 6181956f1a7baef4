"""What the last successful apply in a stack's working directory was made from, so that an
`up` with nothing changed need not run Terraform (its provider alone costs ~10 s of CPU).

`remember(workdir, cloud)` (after an apply that succeeded) writes APPLIED_FILE: a hash
of every `*.tf.json` Terraform reads there (the compiled output, which carries each code
package's hash, and the override), of the state file as that apply left it, and which
local cloud process it went to. `unchanged(workdir, cloud)` is true only when all three
still match: same configuration, nobody ran Terraform there since, same emulator process
(a restarted moto server is empty). `forget(workdir)` runs before every Terraform command
that may change something, so a failed or interrupted apply leaves no record.

Only the embedded moto server qualifies: LocalStack has no process flowc can identify, so
a restarted one would look the same. What this cannot see (changes made to the cloud
behind flowc's back) is covered in part by the read-back after `up` (a missing schedule,
function, queue... makes `up` run Terraform after all) and fully by `flowc up --refresh`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flowc.deploy.localcloud import LocalCloud
from flowc.deploy.overrides import STATE_FILE

APPLIED_FILE = "flowc-applied.json"


def _fingerprint(workdir: Path, cloud: LocalCloud) -> dict[str, object] | None:
    digest = hashlib.sha256()
    for path in sorted(workdir.glob("*.tf.json")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    try:
        state = hashlib.sha256((workdir / STATE_FILE).read_bytes()).hexdigest()
    except OSError:
        return None
    return {"configuration": digest.hexdigest(), "state": state,
            "cloud": [cloud.kind, cloud.endpoint, cloud.pid]}


def remember(workdir: Path, cloud: LocalCloud) -> None:
    """Record a successful apply (nothing for a cloud whose process flowc cannot tell)."""
    workdir = Path(workdir)
    found = _fingerprint(workdir, cloud) if cloud.kind == "moto" and cloud.pid else None
    if found is None:
        forget(workdir)
        return
    (workdir / APPLIED_FILE).write_text(json.dumps(found, indent=2) + "\n")


def forget(workdir: Path) -> None:
    (Path(workdir) / APPLIED_FILE).unlink(missing_ok=True)


def unchanged(workdir: Path, cloud: LocalCloud) -> bool:
    """True when the last successful apply was made from exactly what is here now."""
    workdir = Path(workdir)
    try:
        recorded = json.loads((workdir / APPLIED_FILE).read_text())
    except (OSError, ValueError):
        return False
    return cloud.kind == "moto" and recorded == _fingerprint(workdir, cloud)
