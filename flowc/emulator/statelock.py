"""One live `flowc dev` per state directory: an flock on `<state>/dev.lock`.

The holder writes its pid into the file, so a second `flowc dev` can name it (E530).
The lock is the kernel's: it goes away with the process, even after `kill -9`, so
there is never a stale lock to clean up. `flowc run` takes it only when it is free
(and then does crash recovery and owns `cloud.json` for its run); when a `flowc dev`
holds it, `flowc run` still runs its task, and leaves recovery to that session.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from flowc.diagnostics import Diagnostic, DiagnosticError

LOCK_FILE = "dev.lock"


class StateLocked(DiagnosticError):
    """Another flowc process holds the state directory."""


class StateLock:
    def __init__(self, state_dir: str | Path):
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False if another process holds it. OSError if the
        state directory cannot be written."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock or raise StateLocked (E530) naming the holder's pid."""
        if self.try_acquire():
            return
        holder = self.holder()
        who = f"another flowc process (pid {holder})" if holder else "another flowc process"
        raise StateLocked(Diagnostic(
            "E530", f"the state directory {self.state_dir} is in use by {who}",
            help=f"stop that process{f' (kill {holder})' if holder else ''}, or give this "
            "one its own directory with --state",
        ))  # fmt: skip

    def holder(self) -> int | None:
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor releases the flock
