"""Process identity and clean-up from /proc: what crash recovery and the runner share.

A pid alone is not an identity (pids are reused), so flowc records a process as
(pid, start time in clock ticks since boot, field 22 of /proc/<pid>/stat) and only
signals a pid whose start time still matches. Every attempt's processes carry
`FLOWC_RUN_ID=<run id>` in their environment (inherited by their children), which
finds the ones that outlived both flowc and the attempt's supervisor.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), or None if it is gone or a zombie."""
    try:
        fields = (PROC / str(pid) / "stat").read_bytes().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == b"Z":
        return None
    return int(fields[19])


def is_same(pid: int | None, started: int | None) -> bool:
    """True if `pid` still runs and is the process that started at `started`."""
    return bool(pid) and started is not None and start_time(pid) == started


def with_run_ids(run_ids: Iterable[str]) -> list[int]:
    """Live processes whose environment has FLOWC_RUN_ID set to one of `run_ids`."""
    wanted = {f"FLOWC_RUN_ID={r}".encode() for r in run_ids}
    if not wanted:
        return []
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted.intersection(variables) and start_time(int(entry.name)) is not None:
            found.append(int(entry.name))
    return found


def kill(pids: Iterable[int], wait: float = 2.0) -> int:
    """SIGKILL `pids` and wait (a little) until they are gone; returns how many were signalled."""
    pids = list(pids)
    signalled = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            signalled += 1
        except OSError:
            pass
    deadline = time.monotonic() + wait
    remaining = pids
    while remaining and time.monotonic() < deadline:
        remaining = [p for p in remaining if start_time(p) is not None]
        if remaining:
            time.sleep(0.02)
    return signalled


def kill_leftovers(run_ids: Iterable[str]) -> int:
    """Kill every process still carrying one of these run ids; returns how many there were."""
    run_ids = list(run_ids)
    total = 0
    for _ in range(5):  # a dying parent can fork once more; look again
        pids = with_run_ids(run_ids)
        if not pids:
            break
        total += kill(pids)
    return total
