"""Coordinator chains, the pure decisions: which chains the schedule restarts, and whether a chain
instance carries on.

Each chain i (0 <= i < coordinator.concurrency) is a lineage of generations: an instance re-invokes
itself with generation + 1. Its heartbeat (SSM parameter per chain) records lineage, generation,
time and the instance that wrote it. Lineage ids sort by creation time, so of two lineages on one
chain the newer always wins and the older exits on its next start: the number of live chains can
only converge down to `concurrency`, never ratchet up. Duplicate deliveries of one generation
(Lambda async retries) are caught twice: at start (a heartbeat of the same lineage at this
generation or later exists) and before re-invoking (the last heartbeat writer owns the chain).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
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

    def to_json(self) -> str:
        return json.dumps(
            {
                "lineage": self.lineage,
                "generation": self.generation,
                "timestamp": self.timestamp,
                "instance": self.instance,
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
            return cls(
                str(data["lineage"]),
                int(data["generation"]),
                float(data["timestamp"]),
                str(data.get("instance", "")),
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
    return [
        i
        for i in range(concurrency)
        if (hb := heartbeats.get(i)) is None or now - hb.timestamp > stale_after
    ]


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
