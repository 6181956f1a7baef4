"""flowc's `overlap = skip` cut-off, shipped in every python task's archive on aws and gcp
(next to flowc_handler.py / flowc_entry.py, which call `skipped` before the task runs).

Both clouds run a python task one invocation at a time under `overlap = skip`, and both
hold a fire that arrives during a run until it can start (Lambda's async queue retries a
throttled event; Cloud Scheduler delays a job's next execution until the last one
answered). Such a fire arrives late. One that starts more than its start window after its
scheduled time is skipped: one `flowc: skipped {...}` log line, and the caller answers
success, so nothing retries or dead-letters it. A retry of a fire that did start (after
an error) is never skipped: the fires started in this instance are kept in memory and
under /tmp, keyed by the caller (Lambda's request id; the scheduler job and fire time).
"""

import hashlib
import json
import os
from datetime import datetime, timezone

STARTED_DIR = "/tmp/flowc-started"
ZULU = timezone.utc  # noqa: UP017 - datetime.UTC is 3.11+, tasks may run on 3.10
_started = set()


def _marker(key):
    return os.path.join(STARTED_DIR, hashlib.sha256(key.encode()).hexdigest())


def _seen(key):
    return key in _started or os.path.exists(_marker(key))


def _remember(key):
    _started.add(key)
    try:
        os.makedirs(STARTED_DIR, exist_ok=True)
        open(_marker(key), "w").close()
    except OSError:
        pass  # memory still holds it


def skipped(task, fire, start_within_s, key, now=None):
    """The record logged when the fire `fire` (RFC 3339, UTC) starts more than
    `start_within_s` seconds late and is not a retry of a started one; else None (and the
    fire counts as started)."""
    if not fire or start_within_s is None:
        return None
    if key and _seen(key):
        return None
    # both clouds send UTC ("...Z"); whole seconds are enough, and parse on python 3.10
    try:
        scheduled = datetime.strptime(fire[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=ZULU)
    except ValueError:  # not filled in (an emulated scheduler, a hand-made event): run it
        return None
    late = ((now or datetime.now(ZULU)) - scheduled).total_seconds()
    if late > float(start_within_s):
        record = {"task": task, "fire": fire, "late_s": round(late),
                  "start_within_s": start_within_s, "reason": "overlap"}
        print("flowc: skipped " + json.dumps(record, sort_keys=True), flush=True)
        return record
    if key:
        _remember(key)
    return None
