"""The live view of a local run, and the table of `lcbuild status --watch`.

`rows` (plain lines) and `live_rows` (the table, with the limits and the report's dead-lettered
counts) are pure, from queue counts, the service's stats and the log lines so far; `run_lines`
and `status_lines` turn rows into the table's lines for a width (`live_table`). `RunView` shows
a running testbed: one table redrawn in place on a terminal (`live_table.is_live`), else one
plain line per component whenever its numbers change (logs and CI stay readable).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from lambda_complex.builder.local.run import live_table, report
from lambda_complex.builder.local.run.live_table import Cell, Column
from lambda_complex.runtime import protocol

if TYPE_CHECKING:
    from lambda_complex.builder.deploy.status import Status
    from lambda_complex.builder.local.run.testbed import Testbed

_FAILED = frozenset({protocol.Outcome.FAILED, protocol.Outcome.DEAD_LETTERED})
REFRESH_S = 0.5  # the live table is observed at most this often (each costs SQS calls)


class Row(NamedTuple):
    """A plain progress line's numbers: in flight are the messages received, not yet deleted."""

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


class LiveRow(NamedTuple):
    """A line of the live table: in flight are running invocations, beside their limit."""

    component: str
    queued: int  # inputs waiting: visible messages, or accepted events not yet running
    in_flight: int  # its function's executions running now
    limit: int  # its max_concurrency
    done: int
    failed: int
    dead_lettered: int  # what its dead-letter queue holds
    last_error: str | None  # the reason of its last failed or dead-lettered input


def live_rows(
    components: Sequence[report.Component],
    queues: Mapping[str, tuple[int, int]],
    stats: Mapping[str, Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]],
    limits: Mapping[str, int],
    dead_lettered: Mapping[str, int],
) -> list[LiveRow]:
    found = []
    for row, c in zip(rows(components, queues, stats, lines), components, strict=True):
        running = int(stats.get(c.function, {}).get("concurrency", 0))
        queued = queues.get(c.name, (0, 0))[0] if c.queue is not None else row.queued
        failures = [x for x in report.message_lines(lines, c.name)
                    if x.get("outcome") in _FAILED and x.get("reason")]
        found.append(LiveRow(c.name, queued, running, limits.get(c.name, 0), row.done,
                             row.failed, dead_lettered.get(c.name, 0),
                             str(failures[-1]["reason"]) if failures else None))
    return found


def plain(row: Row) -> str:
    return (
        f"{row.component}: queued {row.queued}, in flight {row.in_flight}, "
        f"done {row.done}, failed {row.failed}"
    )


def elapsed(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _count(value: int | None, alarm: str) -> Cell:
    return Cell("-" if value is None else str(value), alarm if value else None)


def _of_limit(value: int | None, limit: int | None) -> str:
    shown = "-" if value is None else str(value)
    return shown if limit is None else f"{shown}/{limit}"


RUN_COLUMNS = (Column("component"), Column("queued", True), Column("in flight", True),
               Column("done", True), Column("failed", True), Column("dead-lettered", True),
               Column("last error"))


def run_lines(app: str, mode: str, seconds: float, lost: int, current: Sequence[LiveRow],
              width: int, color: bool) -> list[str]:
    """The live table of a local run: a header (app, mode, elapsed, lost so far), then per
    component queued, in flight / limit, done, failed, dead-lettered, last error."""
    header = live_table.line([
        Cell(app, "bold"), Cell(f"  local run ({mode} mode)  elapsed {elapsed(seconds)}  "),
        Cell(f"lost {lost}", "red" if lost else "green")], width, color)
    cells = [[Cell(r.component), Cell(str(r.queued)), Cell(_of_limit(r.in_flight, r.limit)),
              Cell(str(r.done)), _count(r.failed, "red"), _count(r.dead_lettered, "yellow"),
              Cell(r.last_error or "", "red")] for r in current]
    return [header, *live_table.table(RUN_COLUMNS, cells, width, color)]


# `lcbuild status --watch`: every field of a component's status is a column (a field added to
# it shows up), in flight with its limit; only these titles differ from the field's name.
_TITLES = {"name": "component", "dead_lettered": "dead-lettered"}
_ALARMS = {"dead_lettered": "yellow"}


def _value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def status_lines(status: Status, width: int, color: bool, refreshed: datetime,
                 interval: float) -> list[str]:
    """The table of `lcbuild status --watch`: the app's dispatch state, coordinator chains and
    stacks, then a line per component with whatever its status holds."""
    stacks = ", ".join(f"{name} {state or 'absent'}" for name, state in status.stacks.items())
    header = [
        live_table.line([
            Cell(status.app, "bold"), Cell(": "),
            Cell(status.control or "not deployed", "green" if status.control == "running"
                 else "yellow"),
            Cell(f"  coordinator chains {status.chains_alive}/{status.chains_wanted}, last run "
                 f"{status.last_coordinator_run or 'never'}")], width, color),
        live_table.line([Cell(f"stacks: {stacks}")], width, color),
        live_table.line([Cell(f"refreshed {refreshed:%H:%M:%S}, every {interval:g} s; "
                              "Ctrl-C stops", "dim")], width, color),
    ]
    records = [dataclasses.asdict(c) for c in status.components]
    keys = [k for k in (records[0] if records else {}) if k != "limit"]  # beside in flight

    def numeric(key: str) -> bool:
        return all(isinstance(r[key], int | None) and not isinstance(r[key], bool)
                   for r in records)

    columns = [Column(_TITLES.get(k, k.replace("_", " ")), k == "in_flight" or numeric(k))
               for k in keys]
    cells = [[Cell(_of_limit(r[k], r.get("limit"))) if k == "in_flight"
              else Cell(_value(r[k]), _ALARMS.get(k) if r[k] else None) for k in keys]
             for r in records]
    return [*header, *live_table.table(columns, cells, width, color)]


class RunView:
    """What a running testbed is doing, shown on `stream` (default stderr: stdout carries the
    summary): `update()` between two ticks, `close()` at the end."""

    def __init__(self, bed: Testbed, stream: TextIO | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self._bed = bed
        self._stream = stream or sys.stderr
        env = os.environ if env is None else env
        # Both streams a terminal, as for the build's display: a redirected stdout is a log.
        terminal = self._stream.isatty() and sys.stdout.isatty()
        self._screen = (live_table.Screen(self._stream, live_table.use_color(env))
                        if live_table.is_live(terminal, env) else None)
        self._started = time.monotonic()
        self._next = 0.0
        self._last: dict[str, Row] = {}
        self._lost: list[int] = []

    @property
    def live(self) -> bool:
        return self._screen is not None

    def update(self) -> None:
        bed = self._bed
        if self._screen is None:
            for row in rows(bed.components, bed.queues(), bed.stats(), bed.logs.poll()):
                if self._last.get(row.component) != row:
                    print(plain(row), file=self._stream, flush=True)
                    self._last[row.component] = row
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + REFRESH_S
        result = bed.report()
        # The report reads the tap's counts and the queues one after the other: a message moving
        # between two queues meanwhile can look lost for one reading. A lost message stays lost,
        # so the view shows the smaller of the last two readings.
        self._lost = [*self._lost[-1:], int(result["totals"]["lost"])]
        limits = {c.name: c.max_concurrency for c in bed.app.components}
        dead = {name: int(c["dead_lettered"]) for name, c in result["components"].items()}
        current = live_rows(bed.components, bed.queues(), bed.stats(), bed.logs.poll(), limits,
                            dead)
        self._screen.draw(run_lines(bed.app.name, bed.mode, now - self._started,
                                    min(self._lost), current, self._screen.width(),
                                    self._screen.color))

    def close(self) -> None:
        """The last numbers drawn (a courtesy: the run's summary follows, so a failure to read
        them changes nothing), then the terminal given back."""
        if self._screen is None:
            return
        self._next = 0.0
        try:
            with contextlib.suppress(Exception):
                self.update()
        finally:
            self._screen.close()
            self._screen = None
