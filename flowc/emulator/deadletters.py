"""Dead letters you can act on: list them, replay them, and never lose one.

The emulator's dead-letter queues live in its AWS side (LocalStack, or an embedded moto
server that dies with the flowc process). So that a failed run outlives that server,
every dead letter the emulator sends is also kept as a file, the `Journal`:
`<state>/dead-letters/<queue name>/<run_id>.json` (the message body). When a session
provisions its queues it sends back every journal entry its queue lacks (`restore`),
so the next `flowc dev`, `flowc run` or `flowc dlq` sees the same dead letters.

Redrive (`flowc dlq redrive`) replays a letter through the normal run path (retries, and
a new dead letter if it fails again), and deletes the message, then the journal entry,
only after the replay's outcome is in the history. Which replay belongs to which letter
is recorded before the replay starts (`History.redrive`), so a redrive interrupted after
the replay was recorded but before the delete deletes the letter next time instead of
replaying it twice; one interrupted during the replay replays it again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

JOURNAL_DIR = "dead-letters"
PEEK_HIDE_S = 30  # seconds messages stay hidden while a listing reads the whole queue
HOLD_MAX_S = 12 * 3600  # SQS's longest visibility timeout


@dataclass
class Letter:
    message_id: str
    receipt: str
    body: dict[str, Any]
    sent_at: datetime | None

    @property
    def run_id(self) -> str:
        return str(self.body.get("run_id") or "")


class Journal:
    """The durable copy of the dead letters sent, one file per message."""

    def __init__(self, state_dir: str | Path):
        self.root = Path(state_dir) / JOURNAL_DIR

    def _path(self, queue: str, run_id: str) -> Path:
        return self.root / queue / f"{run_id}.json"

    def add(self, queue: str, body: dict[str, Any]) -> None:
        path = self._path(queue, str(body.get("run_id")))
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        with partial.open("w", encoding="utf-8") as file:
            json.dump(body, file, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)  # all or nothing, even on a crash

    def remove(self, queue: str, run_id: str) -> None:
        self._path(queue, run_id).unlink(missing_ok=True)

    def entries(self, queue: str) -> list[dict[str, Any]]:
        out = []
        for path in sorted((self.root / queue).glob("*.json")):
            try:
                out.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # unreadable: left in place for a person to look at
        return sorted(out, key=lambda body: str(body.get("failed_at") or ""))


def _letters(messages: list[dict[str, Any]]) -> list[Letter]:
    out = []
    for message in messages:
        try:
            body = json.loads(message["Body"])
        except ValueError:
            body = {"error": message["Body"]}
        sent = (message.get("Attributes") or {}).get("SentTimestamp")
        out.append(Letter(message["MessageId"], message["ReceiptHandle"], body,
                          datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None))
    return out


def _receive_all(sqs: Any, url: str, hide_s: int) -> list[Letter]:
    """Every message in the queue, each hidden for `hide_s` seconds."""
    seen: dict[str, Letter] = {}
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=hide_s, WaitTimeSeconds=0,
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])  # fmt: skip
        fresh = [letter for letter in _letters(batch) if letter.message_id not in seen]
        if not fresh:
            return sorted(seen.values(), key=lambda x: (x.sent_at or datetime.min.replace(
                tzinfo=UTC), x.message_id))
        seen.update((letter.message_id, letter) for letter in fresh)


def _show(sqs: Any, url: str, letters: list[Letter]) -> None:
    for letter in letters:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=letter.receipt,
                                      VisibilityTimeout=0)


def peek(sqs: Any, url: str) -> list[Letter]:
    """The queue's messages, left in it (visible again at once)."""
    letters = _receive_all(sqs, url, PEEK_HIDE_S)
    _show(sqs, url, letters)
    return letters


def take(sqs: Any, url: str, run_ids: set[str] | None, hold_s: float) -> list[Letter]:
    """The letters of `run_ids` (None: all), hidden for `hold_s`; the others stay visible."""
    letters = _receive_all(sqs, url, int(min(max(hold_s, PEEK_HIDE_S), HOLD_MAX_S)))
    chosen = [x for x in letters if run_ids is None or x.run_id in run_ids]
    _show(sqs, url, [x for x in letters if x not in chosen])
    return chosen


def restore(sqs: Any, url: str, queue: str, journal: Journal) -> int:
    """Send back the journal entries the queue lacks (a fresh embedded server); how many."""
    entries = journal.entries(queue)
    if not entries:
        return 0
    present = {letter.run_id for letter in peek(sqs, url)}
    missing = [body for body in entries if str(body.get("run_id")) not in present]
    for body in missing:
        send(sqs, url, body)
    return len(missing)


def send(sqs: Any, url: str, body: dict[str, Any]) -> str:
    return sqs.send_message(
        QueueUrl=url,
        MessageBody=json.dumps(body, sort_keys=True),
        MessageAttributes={
            "task": {"DataType": "String", "StringValue": str(body.get("task"))},
            "run_id": {"DataType": "String", "StringValue": str(body.get("run_id"))},
        },
    )["MessageId"]
