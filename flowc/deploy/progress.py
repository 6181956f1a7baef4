"""Shows Terraform's streamed events: a rich progress bar of the planned changes done,
naming the resource in flight (and for how long), and one line per finished resource with
the flowc task it belongs to and Terraform's elapsed seconds (like Terraform's own output).

On a terminal the bar is drawn (pulsing until the plan says how many changes there are);
elsewhere (CI, pipes) only the lines are printed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, ProgressColumn, SpinnerColumn
from rich.progress import Progress as Bar
from rich.text import Text

from flowc.compiler.ir import App
from flowc.deploy.terraform import Event
from flowc.targets.owners import owner

_SYMBOLS = {"create": "[green]+[/]", "update": "[yellow]~[/]", "delete": "[red]-[/]",
            "replace": "[magenta]±[/]"}
_DOING = {"create": "creating", "update": "updating", "delete": "destroying",
          "replace": "replacing"}


class Progress:
    """A callable for `Terraform.apply(on_event=...)`; use as a context manager."""

    def __init__(self, console: Console, app: App | None, doc: dict[str, Any],
                 title: str = "Applying"):
        self.console = console
        self.app = app
        self.doc = doc
        self.title = title
        self.inflight: dict[str, tuple[str, float]] = {}
        self.lock = threading.Lock()  # the spinner renders from its own thread
        self.phase = "starting terraform"
        self.total = 0  # changes in the plan (add + change + remove)
        self.done = 0
        self.bar = Bar(SpinnerColumn(), BarColumn(bar_width=30), _Doing(self),
                       console=console, transient=True)
        self.task = self.bar.add_task(title, total=None)  # pulses until the plan is known

    def __enter__(self) -> Progress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def label(self, address: str) -> str:
        who = owner(self.app, self.doc, address) if self.app is not None else None
        return f"{who[0]} {who[1]}" if who else "shared"

    def __call__(self, event: Event) -> None:
        if event.type == "refresh_start" and not self.inflight:
            self.phase = "reading the current state"
        elif event.type == "planned_change":
            self.phase = "planning"
        elif event.type == "change_summary" and event.raw.get("changes", {}).get(
                "operation") == "plan":
            self.console.print(f"[bold]{escape(event.message)}[/]")
            self.phase = "applying"
            changes = event.raw["changes"]
            self.total = sum(changes.get(k, 0) for k in ("add", "change", "remove"))
            self.bar.update(self.task, total=self.total or None)
        elif event.type == "apply_start" and event.address:
            with self.lock:
                self.inflight[event.address] = (event.action or "", time.monotonic())
        elif event.type in ("apply_complete", "apply_errored") and event.address:
            with self.lock:
                action, _ = self.inflight.pop(event.address, (event.action or "", 0.0))
            action = event.action or action
            if action == "read":  # data sources: nothing was made
                return
            self.done += 1
            self.bar.update(self.task, completed=self.done)
            mark = _SYMBOLS.get(action, " ") if event.type == "apply_complete" else "[red]✗[/]"
            took = f"{event.elapsed:.0f}s" if event.elapsed is not None else ""
            self.console.print(
                f"  {mark} {escape(event.address)}  [dim]({escape(self.label(event.address))})"
                f"  {took}[/]", highlight=False)

    def _text(self) -> str:
        with self.lock:
            inflight = list(self.inflight.items())
        if not inflight:
            return f"{self.title}: {self.phase}…"
        address, (action, since) = min(inflight, key=lambda kv: kv[1][1])
        more = f" and {len(inflight) - 1} more" if len(inflight) > 1 else ""
        waited = time.monotonic() - since
        count = f"[{self.done}/{self.total}] " if self.total else ""
        return (f"{self.title}: {count}{_DOING.get(action, action)} {escape(address)} "
                f"({waited:.0f}s){more}…")


class _Doing(ProgressColumn):
    """The bar's text: the phase, or the longest-running resource in flight (re-read at
    every refresh, so its seconds count up)."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress

    def render(self, task: object) -> Text:
        return Text.from_markup(self.progress._text())
