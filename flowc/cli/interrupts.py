"""Ctrl-C and SIGTERM during `flowc up` / `flowc down`: one line, exit 130 (143), no traceback.

While a deploy runs, SIGINT and SIGTERM raise KeyboardInterrupt in the main thread.
Terraform runs in its own session (deploy/terraform.py), so it receives exactly one
SIGINT, from flowc, and stops cleanly with its state saved. The cdktf synthesiser's
node process does get the terminal's SIGINT and dies, so the jsii client may fail
with its own error (BrokenPipeError...) before or instead of KeyboardInterrupt: once
a signal arrived, any exception means "interrupted". flowc then prints one line and
leaves with os._exit, so no library's exit hook (jsii's) prints a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupts:
    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if first:
            raise KeyboardInterrupt

    def __enter__(self) -> Interrupts:
        self._previous = {s: signal.signal(s, self._handle) for s in EXIT_CODES}
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def stop_if_interrupted(self, exc: BaseException, console: Any, command: str) -> None:
        """After `exc`: if a signal came (or `exc` is Ctrl-C), one line and exit now."""
        if self.signum is None and not isinstance(exc, KeyboardInterrupt):
            return
        console.print(f"interrupted: nothing more is applied; Terraform, if it was running, "
                      f"stopped and saved its state; run `flowc {command}` again",
                      highlight=False, soft_wrap=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_CODES.get(self.signum or signal.SIGINT, 130))
