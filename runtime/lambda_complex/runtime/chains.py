"""Coordinator chains, the pure decisions: which chains the schedule restarts, whether a chain
instance carries on, and when a chain stops because the application is idle.

Each chain i (0 <= i < coordinator.concurrency) is a lineage of generations: an instance re-invokes
itself with generation + 1. Its heartbeat (SSM parameter per chain) records lineage, generation,
time and the instance that wrote it. Lineage ids sort by creation time, so of two lineages on one
chain the newer always wins and the older exits on its next start: the number of live chains can
only converge down to `concurrency`, never ratchet up. Duplicate deliveries of one generation
(Lambda async retries) are caught twice: at start (a heartbeat of the same lineage at this
generation or later exists) and before re-invoking (the last heartbeat writer owns the chain).

Idle. The heartbeat also carries `last_busy`, when a generation of this lineage last saw work
(messages queued, received or delayed in the queue of a component the coordinator starts, or
an invocation in flight): a new lineage starts counting at its own start. A generation that
finds `idle_after` seconds passed since then (`goes_idle`) writes its heartbeat once more with
`idle` set, after the same owner check as a re-invoke, and ends its lineage there: no chain
sleeps inside Lambda while there is nothing to do. The schedule takes an idle chain for a down
one (`chains_to_restart`), but restarts a down chain that has run before only when there is
work (`chains_to_wake`; a fresh deployment's chains start at once), always as a new lineage
with its heartbeat written first: so waking keeps both guarantees (a second schedule event
sees the fresh heartbeat; a late instance of the idle lineage meets a newer lineage). A chain
that died is replaced as before when there is work (`replaced_within_s`); without work it is
as good as idle. `idle_after` 0 never stops a chain, and the schedule then restarts a stale
chain whether or not there is work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

# A live chain writes its heartbeat every min_interval (a generation starts, works, sleeps out the
# rest of min_interval, invokes the next). Beyond min_interval + this slack -- room for a slow
# generation's work and the self-invoke's queueing -- it is stale. A chain that dies is thus
# replaced by the first schedule tick (every SCHEDULE_PERIOD_S) after that: within
# min_interval + CHAIN_SLACK_S + SCHEDULE_PERIOD_S (85 s at min_interval 10), about a minute on
# average. A live chain wrongly taken for stale costs little: the newer lineage wins, the older
# exits at its next start.
CHAIN_SLACK_S = 15.0
SCHEDULE_PERIOD_S = 60.0  # the EventBridge rule's rate(1 minute)
# Generation the schedule writes when it starts a lineage, so generation 0 is not a duplicate.
SCHEDULED = -1


class Heartbeat(NamedTuple):
    lineage: str
    generation: int
    timestamp: float
    instance: str
    last_busy: float = 0.0  # when this lineage last saw work (see the module's docstring)
    idle: bool = False  # the lineage ended: nothing to do for idle_after seconds

    def to_json(self) -> str:
        return json.dumps(
            {
                "lineage": self.lineage,
                "generation": self.generation,
                "timestamp": self.timestamp,
                "instance": self.instance,
                "last_busy": self.last_busy,
                "idle": self.idle,
            },
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, value: str | None) -> Heartbeat | None:
        """None for a missing or unreadable heartbeat (treated as a dead chain)."""
        if not value:
            return None
        try:
            data: Any = json.loads(value)
            timestamp = float(data["timestamp"])
            return cls(
                str(data["lineage"]),
                int(data["generation"]),
                timestamp,
                str(data.get("instance", "")),
                float(data.get("last_busy", timestamp)),
                data.get("idle") is True,
            )
        except (ValueError, TypeError, KeyError):
            return None


def new_lineage(now: float) -> str:
    """Sorts by creation time (ms, fixed width), random tail against ties."""
    return f"{int(now * 1000):015d}-{os.urandom(4).hex()}"


def stale_after_s(min_interval: int) -> float:
    return min_interval + CHAIN_SLACK_S


def replaced_within_s(min_interval: int) -> float:
    """The longest a dead chain stays dead (documented in docs/runtime.md)."""
    return stale_after_s(min_interval) + SCHEDULE_PERIOD_S


def chains_to_restart(
    heartbeats: Mapping[int, Heartbeat | None], concurrency: int, now: float, stale_after: float
) -> list[int]:
    """The chains that are down: no heartbeat, a stale one, or an idle one."""
    return [
        i
        for i in range(concurrency)
        if (hb := heartbeats.get(i)) is None or hb.idle or now - hb.timestamp > stale_after
    ]


def work_check_needed(
    heartbeats: Mapping[int, Heartbeat | None], down: Sequence[int], idle_after: int, paused: bool
) -> bool:
    """Whether the schedule must read the queues: only when a chain that has run is down and
    would be woken if there were work. Otherwise it answers from the heartbeats (one
    GetParameters) alone."""
    ran = any(heartbeats.get(i) is not None for i in down)
    return ran and idle_after > 0 and not paused


def chains_to_wake(
    heartbeats: Mapping[int, Heartbeat | None],
    down: Sequence[int],
    idle_after: int,
    paused: bool,
    has_work: bool,
) -> list[int]:
    """Which down chains the schedule restarts: with work, every one; without, only those that
    never ran (a fresh deployment starts its chains, which stop after idle_after if nothing
    comes). While paused none (a woken chain would only wait: after `lcbuild resume` the next
    tick wakes them). With idle_after 0 (chains never stop) every down chain, work or not."""
    if idle_after == 0:
        return list(down)
    if paused:
        return []
    return [i for i in down if has_work or heartbeats.get(i) is None]


def last_busy_before(heartbeat: Heartbeat | None, lineage: str, started: float) -> float:
    """When the application was last busy as this lineage knows it: carried from generation to
    generation (and from the schedule's start heartbeat); a lineage taking over starts at its
    own start."""
    if heartbeat is not None and heartbeat.lineage == lineage:
        return heartbeat.last_busy
    return started


def goes_idle(last_busy: float, now: float, idle_after: int) -> bool:
    """Whether the generation ends its lineage instead of invoking the next one."""
    return idle_after > 0 and now - last_busy >= idle_after


def state(heartbeat: Heartbeat | None, now: float, min_interval: int) -> str:
    """What a chain's heartbeat says: `running`, `idle` (stopped with nothing to do; the
    schedule wakes it), `stale` (died: the schedule replaces it) or `missing`."""
    if heartbeat is None:
        return "missing"
    if heartbeat.idle:
        return "idle"
    return "stale" if now - heartbeat.timestamp > stale_after_s(min_interval) else "running"


def should_start(
    chain: int, lineage: str, generation: int, heartbeat: Heartbeat | None, concurrency: int
) -> tuple[bool, str]:
    """Whether an instance begins its generation, and why (logged)."""
    if not 0 <= chain < concurrency:
        return False, f"chain {chain} is beyond coordinator.concurrency {concurrency}"
    if heartbeat is None:
        return True, "no heartbeat"
    if heartbeat.lineage > lineage:
        return False, f"newer lineage {heartbeat.lineage} owns the chain"
    if heartbeat.lineage < lineage:
        return True, "taking over from an older lineage"
    if heartbeat.generation >= generation:
        return False, f"generation {heartbeat.generation} already ran (duplicate delivery)"
    return True, "next generation"


def still_owner(mine: Heartbeat, current: Heartbeat | None) -> bool:
    """Before re-invoking: only the instance whose heartbeat is current carries the chain on."""
    return current is not None and current == mine


def sleep_before_next(started: float, now: float, min_interval: int, remaining_s: float) -> float:
    """Seconds to wait so generations start min_interval apart, within the time left."""
    return max(0.0, min(started + min_interval - now, remaining_s))
