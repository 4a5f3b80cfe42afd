"""Live progress of a local run: per component queued, in flight, done, failed.

`rows` is pure (from queue counts, the service's stats and the log lines so far); `Progress`
shows them: a live `rich` table on a terminal, else one plain line per component whenever the
numbers change (logs and CI stay readable).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TextIO

from lambda_complex.builder.local.run import report
from lambda_complex.runtime import protocol

_FAILED = frozenset({protocol.Outcome.FAILED, protocol.Outcome.DEAD_LETTERED})


class Row(NamedTuple):
    component: str
    queued: int
    in_flight: int
    done: int
    failed: int


def rows(
    components: Sequence[report.Component],
    queues: Mapping[str, tuple[int, int]],  # component -> (visible, not visible) of its queue
    stats: Mapping[str, Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]],
) -> list[Row]:
    found = []
    for c in components:
        fn = stats.get(c.function, {})
        mine = report.message_lines(lines, c.name)
        if c.queue is not None:
            queued, in_flight = queues.get(c.name, (0, 0))
        else:
            in_flight = int(fn.get("concurrency", 0))
            queued = max(int(fn.get("async_in_flight", 0)) - in_flight, 0)
        done = sum(1 for x in mine if x.get("outcome") in protocol.DONE)
        failed = sum(1 for x in mine if x.get("outcome") in _FAILED)
        found.append(Row(c.name, queued, in_flight, done, failed))
    return found


def plain(row: Row) -> str:
    return (
        f"{row.component}: queued {row.queued}, in flight {row.in_flight}, "
        f"done {row.done}, failed {row.failed}"
    )


class Progress:
    """`update(rows)` as often as you like; `close()` at the end."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._last: dict[str, Row] = {}
        self._rich: Any = None
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._rich = Live(console=Console(file=self.stream), refresh_per_second=4)
            self._rich.start()

    def update(self, current: Sequence[Row]) -> None:
        if self._rich is not None:
            self._rich.update(_table(current))
            return
        for row in current:
            if self._last.get(row.component) != row:
                print(plain(row), file=self.stream, flush=True)
                self._last[row.component] = row

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None


def _table(current: Sequence[Row]) -> Any:
    from rich.table import Table

    table = Table("component", "queued", "in flight", "done", "failed")
    for row in current:
        table.add_row(row.component, *(str(v) for v in row[1:]))
    return table
