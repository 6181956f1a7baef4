"""`systemd-analyze calendar --iterations=N --base-time=...` as an oracle.

The expression is evaluated in `tz` the way a machine in that zone would: the
process runs with TZ set to it (a zone written in the expression still wins), and
the "(in UTC)" lines systemd adds for a non-UTC zone are read.

Returns aware UTC datetimes; raises SystemdRejects when systemd cannot parse the
expression and SystemdFailed when it parses but cannot compute the next elapse
(systemd 252 gives up with EDEADLK around some DST changes, e.g. in Dublin or at
Chatham's 02:45).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
_LINE = re.compile(
    r"(?:Next elapse|Iter\. #\d+|\(in UTC\)): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$"
)


class SystemdRejects(ValueError):
    pass


class SystemdFailed(RuntimeError):
    pass


def systemd_fires(expr: str, tz: str, base: datetime, n: int) -> list[datetime]:
    if SYSTEMD_ANALYZE is None:
        raise RuntimeError("systemd-analyze is not installed")
    base_utc = base.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    env = dict(os.environ, TZ=tz, LC_ALL="C", SYSTEMD_COLORS="0")
    proc = subprocess.run(
        [SYSTEMD_ANALYZE, "calendar", f"--iterations={n}", f"--base-time={base_utc}", expr],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    if proc.returncode != 0:
        if "Failed to parse" in proc.stderr:
            raise SystemdRejects(proc.stderr.strip())
        raise SystemdFailed(proc.stderr.strip())
    out = []
    for line in proc.stdout.splitlines():
        m = _LINE.search(line.strip())
        if m:
            out.append(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
    return out
