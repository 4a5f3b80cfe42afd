"""Progress of a build: one rich display (a line per image: hashing, building step k/n, pushing
bytes) on a terminal, plain log lines otherwise (CI logs), nothing for API callers by default.

Reporters are called from worker threads; each implementation is thread-safe.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Protocol, TextIO

if TYPE_CHECKING:  # rich is imported only when a terminal shows the display (start-up time)
    from rich.console import Console
    from rich.progress import TaskID


class Reporter(Protocol):
    def begin(self, names: list[str]) -> None: ...

    def status(self, name: str, text: str) -> None: ...

    def step(self, name: str, k: int, n: int, text: str) -> None: ...

    def push_bytes(self, name: str, done: int, total: int) -> None: ...

    def finish(self, name: str, text: str, ok: bool) -> None: ...

    def end(self) -> None: ...


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class NullReporter:
    def begin(self, names: list[str]) -> None:
        pass

    def status(self, name: str, text: str) -> None:
        pass

    def step(self, name: str, k: int, n: int, text: str) -> None:
        pass

    def push_bytes(self, name: str, done: int, total: int) -> None:
        pass

    def finish(self, name: str, text: str, ok: bool) -> None:
        pass

    def end(self) -> None:
        pass


class PlainReporter:
    """One line per event, prefixed with the image name; push progress only at its start."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._pushing: set[str] = set()

    def _line(self, name: str, text: str) -> None:
        with self._lock:
            print(f"[{name}] {text}", file=self.stream, flush=True)

    def begin(self, names: list[str]) -> None:
        pass

    def status(self, name: str, text: str) -> None:
        self._line(name, text)

    def step(self, name: str, k: int, n: int, text: str) -> None:
        self._line(name, f"step {k}/{n}: {text[:100]}")

    def push_bytes(self, name: str, done: int, total: int) -> None:
        with self._lock:
            if name in self._pushing:
                return
            self._pushing.add(name)
        self._line(name, f"pushing ({_mb(total)} to upload at most)")

    def finish(self, name: str, text: str, ok: bool) -> None:
        self._line(name, text if ok else f"FAILED: {text}")

    def end(self) -> None:
        pass


class RichReporter:
    def __init__(self, console: Console | None = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("[bold]{task.fields[name]:<16}"),
            BarColumn(bar_width=20),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def _task(self, name: str) -> TaskID:
        with self._lock:
            if name not in self._tasks:
                self._tasks[name] = self.progress.add_task("waiting", name=name, total=None)
            return self._tasks[name]

    def begin(self, names: list[str]) -> None:
        self.progress.start()
        for name in names:
            self._task(name)

    def status(self, name: str, text: str) -> None:
        self.progress.update(self._task(name), description=text)

    def step(self, name: str, k: int, n: int, text: str) -> None:
        self.progress.update(self._task(name), description=f"building step {k}/{n}",
                             completed=k, total=n)

    def push_bytes(self, name: str, done: int, total: int) -> None:
        self.progress.update(self._task(name), description=f"pushing {_mb(done)}/{_mb(total)}",
                             completed=done, total=max(total, 1))

    def finish(self, name: str, text: str, ok: bool) -> None:
        task = self._task(name)
        style = "green" if ok else "red"
        self.progress.update(task, description=f"[{style}]{text}", completed=1, total=1)

    def end(self) -> None:
        self.progress.stop()


def for_terminal() -> Reporter:
    """Rich on a terminal, plain lines otherwise (both on stderr: stdout carries results)."""
    if sys.stdout.isatty() and sys.stderr.isatty():
        return RichReporter()
    return PlainReporter()
