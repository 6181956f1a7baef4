"""Watches the .flow file and the task code with watchdog; calls back once per burst.

What counts as a change: the spec file itself (including an editor's atomic save,
which arrives as a move onto it), `*.py` and `requirements*.txt` under a task's
code directory, and `.flowc-secrets` next to the spec. Directories that are never
task code (hidden ones, `__pycache__`, virtualenvs, `node_modules`, the state
directory) are not watched at all, so a large repository stays cheap to watch.
Events within `debounce` seconds of each other form one burst: one reload.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from flowc.emulator.secrets import SECRETS_FILE

DEBOUNCE_S = 0.05
MAX_DIRS = 2000
SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "flowc.out"}

ChangeCallback = Callable[[list[str], float], None]  # (changed paths, monotonic of 1st event)


def _skip_dir(path: Path, ignore: set[Path]) -> bool:
    return (
        path.name.startswith(".")
        or path.name in SKIP_DIRS
        or path in ignore
        or (path / "pyvenv.cfg").exists()
    )


class Watcher(FileSystemEventHandler):
    def __init__(
        self,
        spec: Path,
        code_dirs: Iterable[Path],
        on_change: ChangeCallback,
        ignore: Iterable[Path] = (),
        debounce: float = DEBOUNCE_S,
    ):
        self.spec = spec.resolve()
        self.on_change = on_change
        self.ignore = {p.resolve() for p in ignore}
        self.debounce = debounce
        self._observer = Observer()
        self._watched: set[Path] = set()
        self._code_dirs: set[Path] = set()
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._first: float | None = None
        self._timer: threading.Timer | None = None
        self._watch_dir(self.spec.parent)
        self.set_code_dirs(code_dirs)

    # which directories ------------------------------------------------------------

    def _watch_dir(self, directory: Path) -> None:
        if directory in self._watched or len(self._watched) >= MAX_DIRS:
            return
        try:
            self._observer.schedule(self, str(directory), recursive=False)
        except OSError:
            return
        self._watched.add(directory)

    def set_code_dirs(self, code_dirs: Iterable[Path]) -> None:
        """Watch these trees too (called again after a reload changes them)."""
        for root in code_dirs:
            root = root.resolve()
            if not root.is_dir():
                continue
            self._code_dirs.add(root)
            for current, dirs, _files in os.walk(root):
                here = Path(current)
                dirs[:] = [d for d in dirs if not _skip_dir(here / d, self.ignore)]
                self._watch_dir(here)

    # which files ------------------------------------------------------------------

    def relevant(self, path: str) -> bool:
        p = Path(path)
        if p == self.spec:
            return True
        if any(p.is_relative_to(i) for i in self.ignore):
            return False
        if p.name == SECRETS_FILE and p.parent == self.spec.parent:
            return True
        if "__pycache__" in p.parts:
            return False
        if p.suffix == ".py" or (p.name.startswith("requirements") and p.suffix == ".txt"):
            return any(p.is_relative_to(d) for d in self._code_dirs)
        return False

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory:
            if event.event_type == "created":
                new = Path(os.fsdecode(event.src_path))
                if any(new.is_relative_to(d) for d in self._code_dirs) and not _skip_dir(
                    new, self.ignore
                ):
                    self.set_code_dirs([new])
            return
        paths = [os.fsdecode(event.src_path)]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(os.fsdecode(dest))
        hits = [p for p in paths if self.relevant(str(Path(p).resolve()))]
        if hits:
            self._bump(hits)

    def _bump(self, paths: list[str]) -> None:
        with self._lock:
            if self._first is None:
                self._first = time.monotonic()
            self._pending.extend(p for p in paths if p not in self._pending)
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce, self._flush)
            self._timer.daemon = True
            self._timer.start()

    def _flush(self) -> None:
        with self._lock:
            paths, first = self._pending, self._first
            self._pending, self._first, self._timer = [], None, None
        if paths and first is not None:
            self.on_change(paths, first)

    # life cycle -------------------------------------------------------------------

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self._observer.stop()
        self._observer.join(timeout=5)
