"""Run history in SQLite (`<state>/history.sqlite`), written by `flowc dev`/`flowc run`,
read by `flowc runs`.

One row per run (a scheduled or manual invocation, with all its attempts, and the
`version` of the task's code it ran) and one per attempt. A run's status is one of:
running, succeeded, failed (after its last attempt, no dead-letter queue),
dead_lettered, interrupted (stopped by shutdown), abandoned (its flowc died, closed by
the next session, see recovery.py; or its next retry fell after the `--for` window),
missed (a fire that fell while no flowc ran).

Write-ahead: a run's row exists before its first attempt starts, an attempt's row
(with its supervisor's pid and start time) before its process runs, and each run
names the flowc process that owns it; so after `kill -9` the next session can tell
which runs were cut short and which processes to kill.

Writes from any thread go through one connection under a lock and are committed at
once (WAL mode), so `flowc runs` sees them while `flowc dev` runs. A write that fails
(full or read-only disk) never raises into the emulator: it is counted, and the
first failure is reported once through `on_fault` (the session then stops taking
fires). A history that is not a database any more is moved aside, not crashed on.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowc.diagnostics import Diagnostic, DiagnosticError
from flowc.emulator.processes import start_time

DB_NAME = "history.sqlite"
FINAL = ("succeeded", "failed", "dead_lettered", "interrupted", "abandoned", "missed")
CORRUPT = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)

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
CREATE TABLE IF NOT EXISTS sessions (
    app TEXT PRIMARY KEY,
    clock TEXT NOT NULL,
    last_at TEXT NOT NULL,
    last_wall TEXT NOT NULL
);
"""

# Columns added after the first release of the history (added to older files on open).
_ADDED = {
    "runs": {"version": "INTEGER", "owner_pid": "INTEGER", "owner_start": "INTEGER"},
    "attempts": {"pid": "INTEGER", "pid_start": "INTEGER"},
}

RUN_COLUMNS = (
    "run_id", "app", "task", "trigger", "status", "scheduled_at", "started_at", "finished_at",
    "wall_started", "wall_finished", "attempts", "exit_code", "timed_out", "error",
    "stderr_tail", "dead_letter_queue", "dead_letter_message_id", "version",
)  # fmt: skip


class HistoryError(DiagnosticError):
    """The history cannot be opened or read."""


def db_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / DB_NAME


def _is_corrupt(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in CORRUPT


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


class History:
    """The writer side, owned by one emulator session.

    `moved_aside` is where a corrupt history went (None normally); the caller warns.
    """

    def __init__(self, state_dir: str | Path, on_fault: Callable[[str], None] | None = None):
        self.path = db_path(state_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.on_fault = on_fault or (lambda reason: None)
        self.failed_writes = 0
        self.first_failure: str | None = None
        self.moved_aside: Path | None = None
        self.owner = (os.getpid(), start_time(os.getpid()))
        self.mine: set[str] = set()  # runs this session started (closed by it at the end)
        self._lock = threading.Lock()
        try:
            self._db: sqlite3.Connection | None = self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
            self.moved_aside = self._move_aside()
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
        try:
            (verdict,) = db.execute("PRAGMA quick_check").fetchone()
            if verdict != "ok":
                raise sqlite3.DatabaseError(f"quick_check: {verdict}")
            db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives flowc being killed, only a power cut can lose
            # the last ones; FULL's fsync per commit cost ~10 ms per run (bench_virtual_time)
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            for table, added in _ADDED.items():
                columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                for name, kind in added.items():
                    if name not in columns:  # a history written by an older flowc
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            db.commit()
        except sqlite3.DatabaseError as exc:
            db.close()
            if str(exc).startswith("quick_check"):
                exc.sqlite_errorcode = sqlite3.SQLITE_CORRUPT  # type: ignore[attr-defined]
            raise
        return db

    def _move_aside(self) -> Path:
        """Rename the corrupt file (and its WAL) to history.sqlite.corrupt-<time>."""
        target = self.path.with_name(f"{DB_NAME}.corrupt-{_stamp()}")
        self.path.rename(target)
        for suffix in ("-wal", "-shm"):
            extra = self.path.with_name(DB_NAME + suffix)
            if extra.exists():
                extra.rename(target.with_name(target.name + suffix))
        return target

    # writing ---------------------------------------------------------------------

    def _write(self, sql: str, params: tuple[Any, ...]) -> bool:
        """Run one statement and commit; False (counted, reported once) if storage failed."""
        with self._lock:
            if self._db is None:
                return False
            try:
                self._db.execute(sql, params)
                self._db.commit()
                return True
            except sqlite3.Error as exc:
                try:
                    self._db.rollback()
                except sqlite3.Error:
                    pass
                self.failed_writes += 1
                reason = str(exc)
                first = self.first_failure is None
                if first:
                    self.first_failure = reason
        if first:
            self.on_fault(reason)
        return False

    def start_run(
        self, run_id: str, app: str, task: str, trigger: str, scheduled_at: str | None,
        started_at: str, wall_started: str, version: int | None = None,
    ) -> bool:  # fmt: skip
        self.mine.add(run_id)
        return self._write(
            "INSERT OR IGNORE INTO runs (run_id, app, task, trigger, status, scheduled_at,"
            " started_at, wall_started, version, owner_pid, owner_start)"
            " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
            (run_id, app, task, trigger, scheduled_at, started_at, wall_started, version,
             *self.owner),
        )  # fmt: skip

    def start_attempt(self, run_id: str, attempt: int, started_at: str, wall_started: str) -> None:
        """Write-ahead: the attempt exists (unfinished) before its process starts."""
        self._write(
            "INSERT OR REPLACE INTO attempts (run_id, attempt, started_at, wall_started)"
            " VALUES (?, ?, ?, ?)",
            (run_id, attempt, started_at, wall_started),
        )
        self._write("UPDATE runs SET attempts = ? WHERE run_id = ?", (attempt, run_id))

    def attempt_process(self, run_id: str, attempt: int, pid: int, pid_start: int | None) -> None:
        """The attempt's supervisor process, for recovery after a crash."""
        self._write(
            "UPDATE attempts SET pid = ?, pid_start = ? WHERE run_id = ? AND attempt = ?",
            (pid, pid_start, run_id, attempt),
        )

    def record_attempt(
        self, run_id: str, attempt: int, started_at: str, finished_at: str, wall_started: str,
        wall_finished: str, exit_code: int | None, timed_out: bool, duration_s: float,
        error: str | None,
    ) -> None:  # fmt: skip
        self._write(
            "INSERT INTO attempts (run_id, attempt, started_at, finished_at, wall_started,"
            " wall_finished, exit_code, timed_out, duration_s, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, attempt) DO UPDATE SET"
            " started_at = excluded.started_at, finished_at = excluded.finished_at,"
            " wall_started = excluded.wall_started, wall_finished = excluded.wall_finished,"
            " exit_code = excluded.exit_code, timed_out = excluded.timed_out,"
            " duration_s = excluded.duration_s, error = excluded.error",
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

    def close_attempts(self, run_id: str, finished_at: str, wall_finished: str,
                       error: str) -> None:
        """Close a cut-short run's unfinished attempts (recovery)."""
        self._write(
            "UPDATE attempts SET finished_at = ?, wall_finished = ?, error = ?"
            " WHERE run_id = ? AND finished_at IS NULL",
            (finished_at, wall_finished, error, run_id),
        )

    def record_missed(self, run_id: str, app: str, task: str, scheduled_at: str,
                      finished_at: str, wall: str, error: str) -> None:
        """A fire that fell while no flowc ran on this state: a row, so it is not lost."""
        self._write(
            "INSERT OR IGNORE INTO runs (run_id, app, task, trigger, status, scheduled_at,"
            " finished_at, wall_finished, error) VALUES (?, ?, ?, 'schedule', 'missed', ?, ?,"
            " ?, ?)",
            (run_id, app, task, scheduled_at, finished_at, wall, error),
        )

    def heartbeat(self, app: str, clock: str, at: str, wall: str) -> None:
        """The last instant a session of `app` was alive (missed fires count from it)."""
        self._write(
            "INSERT INTO sessions (app, clock, last_at, last_wall) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (app) DO UPDATE SET clock = excluded.clock,"
            " last_at = excluded.last_at, last_wall = excluded.last_wall",
            (app, clock, at, wall),
        )

    def redrive(self, original_run_id: str, replay_run_id: str) -> None:
        """Before a dead letter is replayed: which run replays it (see deadletters.py)."""
        self._write("INSERT OR REPLACE INTO redrives VALUES (?, ?)",
                    (original_run_id, replay_run_id))

    def forget_replay(self, replay_run_id: str) -> None:
        """A replay cut short by a crash does not count: its letter is replayed again."""
        self._write("DELETE FROM redrives WHERE replay_run_id = ?", (replay_run_id,))

    def replay_of(self, original_run_id: str) -> tuple[str, str] | None:
        """(replay run id, its status) of a dead letter replayed before, or None."""
        rows = self._query(
            "SELECT r.run_id, r.status FROM redrives d JOIN runs r"
            " ON r.run_id = d.replay_run_id WHERE d.original_run_id = ?",
            (original_run_id,),
        )
        return (rows[0]["run_id"], rows[0]["status"]) if rows else None

    # reading (this session's own view) --------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            if self._db is None:
                return []
            try:
                cursor = self._db.execute(sql, params)
                names = [c[0] for c in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor]
            except sqlite3.Error:
                return []

    def open_runs(self) -> list[dict[str, Any]]:
        """Runs not in a final state, with their owner and their attempts' processes."""
        runs = self._query(
            "SELECT run_id, app, task, trigger, scheduled_at, started_at, attempts, version,"
            " owner_pid, owner_start FROM runs WHERE status = 'running' ORDER BY rowid"
        )
        for run in runs:
            run["processes"] = [
                (a["pid"], a["pid_start"])
                for a in self._query(
                    "SELECT pid, pid_start FROM attempts WHERE run_id = ? AND pid IS NOT NULL",
                    (run["run_id"],),
                )
            ]
        return runs

    def last_seen(self, app: str) -> dict[str, Any] | None:
        rows = self._query("SELECT clock, last_at, last_wall FROM sessions WHERE app = ?", (app,))
        return rows[0] if rows else None

    def scheduled_runs(self, app: str, since: str) -> set[tuple[str, str]]:
        """(task, scheduled_at) of every recorded fire of `app` after `since`."""
        rows = self._query(
            "SELECT task, scheduled_at FROM runs WHERE app = ? AND scheduled_at > ?",
            (app, since),
        )
        return {(r["task"], r["scheduled_at"]) for r in rows}

    def close(self) -> None:
        """Flush and close; later writes are ignored."""
        with self._lock:
            if self._db is not None:
                try:
                    self._db.commit()
                    self._db.close()
                except sqlite3.Error:
                    pass
                self._db = None


def storage_diagnostic(code: str, what: str, exc: BaseException | str) -> Diagnostic:
    """E508-style diagnostic for a state directory that cannot be written."""
    return Diagnostic(
        code, f"cannot write {what}: {exc}",
        help="free some space or pass a writable directory with --state (default .flowc/)",
    )  # fmt: skip


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
    if not path.is_file():
        return []
    try:
        return _read_runs(path, task, app, limit)
    except sqlite3.Error as exc:
        raise HistoryError(Diagnostic(
            "E531", f"cannot read the run history {path}: {exc}",
            help="the next `flowc dev` or `flowc run` on this --state moves a corrupt history "
            "aside and starts a fresh one",
        )) from None  # fmt: skip


def _read_runs(path: Path, task: str | None, app: str | None,
               limit: int | None) -> list[dict[str, Any]]:
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
