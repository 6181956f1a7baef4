"""Run history in SQLite (`<state>/history.sqlite`), written by `flowc dev`/`flowc run`,
read by `flowc runs`.

One row per run (a scheduled or manual invocation, with all its attempts, and the
`version` of the task's code it ran) and one per attempt. A run's status is one of:
running, succeeded, failed (after its last attempt, no dead-letter queue),
dead_lettered, interrupted (stopped by shutdown), abandoned (its next retry fell after
the `--for` window).
Writes from any thread go through one connection under a lock and are committed
at once (WAL mode), so `flowc runs` sees them while `flowc dev` runs.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

DB_NAME = "history.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    task TEXT NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL,
    scheduled_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    wall_started TEXT,
    wall_finished TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    timed_out INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    stderr_tail TEXT,
    dead_letter_queue TEXT,
    dead_letter_message_id TEXT,
    version INTEGER
);
CREATE INDEX IF NOT EXISTS runs_task ON runs (app, task);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    wall_started TEXT,
    wall_finished TEXT,
    exit_code INTEGER,
    timed_out INTEGER NOT NULL DEFAULT 0,
    duration_s REAL,
    error TEXT,
    PRIMARY KEY (run_id, attempt)
);
CREATE TABLE IF NOT EXISTS redrives (
    original_run_id TEXT PRIMARY KEY,
    replay_run_id TEXT NOT NULL
);
"""

RUN_COLUMNS = (
    "run_id", "app", "task", "trigger", "status", "scheduled_at", "started_at", "finished_at",
    "wall_started", "wall_finished", "attempts", "exit_code", "timed_out", "error",
    "stderr_tail", "dead_letter_queue", "dead_letter_message_id", "version",
)  # fmt: skip


def db_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / DB_NAME


class History:
    """The writer side, owned by one emulator session."""

    def __init__(self, state_dir: str | Path):
        self.path = db_path(state_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = sqlite3.connect(
            self.path, check_same_thread=False, timeout=10
        )
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives flowc being killed, only a power cut can lose
            # the last ones; FULL's fsync per commit cost ~10 ms per run (bench_virtual_time)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            if "version" not in columns:  # a history written before runs had versions
                self._db.execute("ALTER TABLE runs ADD COLUMN version INTEGER")
            self._db.commit()

    def _write(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            if self._db is None:
                return
            self._db.execute(sql, params)
            self._db.commit()

    def start_run(
        self, run_id: str, app: str, task: str, trigger: str, scheduled_at: str | None,
        started_at: str, wall_started: str, version: int | None = None,
    ) -> None:  # fmt: skip
        self._write(
            "INSERT INTO runs (run_id, app, task, trigger, status, scheduled_at, started_at,"
            " wall_started, version) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            (run_id, app, task, trigger, scheduled_at, started_at, wall_started, version),
        )

    def record_attempt(
        self, run_id: str, attempt: int, started_at: str, finished_at: str, wall_started: str,
        wall_finished: str, exit_code: int | None, timed_out: bool, duration_s: float,
        error: str | None,
    ) -> None:  # fmt: skip
        self._write(
            "INSERT OR REPLACE INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, attempt, started_at, finished_at, wall_started, wall_finished, exit_code,
             int(timed_out), duration_s, error),
        )  # fmt: skip
        self._write("UPDATE runs SET attempts = ? WHERE run_id = ?", (attempt, run_id))

    def finish_run(
        self, run_id: str, status: str, finished_at: str, wall_finished: str,
        exit_code: int | None, timed_out: bool = False, error: str | None = None,
        stderr_tail: str | None = None, dead_letter_queue: str | None = None,
        dead_letter_message_id: str | None = None,
    ) -> None:  # fmt: skip
        self._write(
            "UPDATE runs SET status = ?, finished_at = ?, wall_finished = ?, exit_code = ?,"
            " timed_out = ?, error = ?, stderr_tail = ?, dead_letter_queue = ?,"
            " dead_letter_message_id = ? WHERE run_id = ?",
            (status, finished_at, wall_finished, exit_code, int(timed_out), error, stderr_tail,
             dead_letter_queue, dead_letter_message_id, run_id),
        )  # fmt: skip

    def redrive(self, original_run_id: str, replay_run_id: str) -> None:
        """Before a dead letter is replayed: which run replays it (see deadletters.py)."""
        self._write("INSERT OR REPLACE INTO redrives VALUES (?, ?)",
                    (original_run_id, replay_run_id))

    def replay_of(self, original_run_id: str) -> tuple[str, str] | None:
        """(replay run id, its status) of a dead letter replayed before, or None."""
        with self._lock:
            if self._db is None:
                return None
            row = self._db.execute(
                "SELECT r.run_id, r.status FROM redrives d JOIN runs r"
                " ON r.run_id = d.replay_run_id WHERE d.original_run_id = ?",
                (original_run_id,),
            ).fetchone()
        return (row[0], row[1]) if row else None

    def close(self) -> None:
        """Flush and close; later writes are ignored."""
        with self._lock:
            if self._db is not None:
                self._db.commit()
                self._db.close()
                self._db = None


def list_runs(
    state_dir: str | Path,
    task: str | None = None,
    app: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Runs in the order they were recorded (oldest first), each with its `attempt_list`.

    `limit` keeps the most recent N. A missing database means no runs.
    """
    path = db_path(state_dir)
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        where, params = [], []
        if task:
            where.append("task = ?")
            params.append(task)
        if app:
            where.append("app = ?")
            params.append(app)
        sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY rowid"
        rows = [dict(r) for r in db.execute(sql, params)]
        if limit:
            rows = rows[-limit:]
        for row in rows:
            row["timed_out"] = bool(row["timed_out"])
            row["attempt_list"] = [
                dict(a, timed_out=bool(a["timed_out"]))
                for a in db.execute(
                    "SELECT attempt, started_at, finished_at, exit_code, timed_out, duration_s,"
                    " error FROM attempts WHERE run_id = ? ORDER BY attempt",
                    (row["run_id"],),
                )
            ]
        return rows
    finally:
        db.close()
