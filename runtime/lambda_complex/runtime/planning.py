"""What the coordinator decides, as pure functions of what it read: which components it starts
(`coordinated`), which only outside producers feed (`entry_components`) and which others push
(`pushed_components`), whether anything is left to do (`has_work`), and how many invocations a
chain starts per component (`plan`, and `watch_plan` for the entry watch between generations).
The coordinator (`coordinator`) reads the status and applies them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

from .config import EVENT_FROM_MESSAGE, RuntimeConfig


class Status(NamedTuple):
    backlog: int  # visible messages in the input queue
    in_flight: int  # running invocations (lease queue; read only where there is backlog)
    # Messages received and not yet deleted, or delayed: invocations are working on them, or
    # they come back. Read in the same call as the backlog, so the idle decision costs nothing.
    held: int = 0


def coordinated(config: RuntimeConfig) -> list[str]:
    """The components the coordinator starts: message components not left to a mapping."""
    return sorted(
        n for n, c in config.components.items() if c.type == EVENT_FROM_MESSAGE and not c.native
    )


def entry_components(config: RuntimeConfig) -> list[str]:
    """Coordinated components no component can route to: only producers outside the application
    feed them, so no push starts them; the entry watch does (`watch_steps`)."""
    targets = {t for c in config.components.values()
               for t in c.routing.possible_targets(config.components)}
    return [n for n in coordinated(config) if n not in targets]


# After a look (or the generation's plan) that started an entry component, inputs are arriving:
# the watch looks again this soon, so the rest of a burst does not wait a whole interval for the
# slots still free.
WATCH_FOLLOW_UP_S = 0.25


def watch_step(left_s: float, interval: int, arriving: bool) -> tuple[float, bool]:
    """The next sleep of a generation's wait (`left_s` to go) and whether a look at the entry
    queues follows it: every `interval` seconds, WATCH_FOLLOW_UP_S after a start (`arriving`).
    The last sleep has no look: the next generation reads the queues anyway."""
    if left_s <= 0:
        return 0.0, False
    step = min(float(interval), WATCH_FOLLOW_UP_S) if arriving else float(interval)
    if interval <= 0 or step >= left_s:
        return left_s, False
    return step, True


def pushed_components(config: RuntimeConfig) -> list[str]:
    """Coordinated components other components start by push: their lease pools must hold
    their tokens before the first push (`inflight.seed`)."""
    entries = set(entry_components(config))
    return [n for n in coordinated(config) if config.components[n].push and n not in entries]


def has_work(status: Mapping[str, Status], config: RuntimeConfig) -> bool:
    """Whether anything is queued, held or in flight for a coordinated component; a component
    whose status could not be read counts as busy (an idle chain is woken rather than left)."""
    for name in coordinated(config):
        current = status.get(name)
        if current is None or current.backlog > 0 or current.held > 0 or current.in_flight > 0:
            return True
    return False


def share(free: int, chain: int, chains_count: int) -> int:
    """Chain `chain`'s part of `free`: parts sum to `free` exactly over all chains."""
    return free // chains_count + (1 if chain < free % chains_count else 0)


def plan(
    status: Mapping[str, Status], config: RuntimeConfig, chain: int, chains_count: int
) -> dict[str, int]:
    """Invocations per component for this chain. Never more than the chain's share of
    min(max_concurrency - in_flight, ceil(backlog / batch_size)): split that way, all chains
    together never exceed the free slots (shares rounded up each would overshoot them)."""
    counts: dict[str, int] = {}
    if not 0 <= chain < chains_count:
        return counts
    for name, component in sorted(config.components.items()):
        current = status.get(name)
        if component.type != EVENT_FROM_MESSAGE or component.native or current is None:
            continue
        free = max(0, component.max_concurrency - current.in_flight)
        wanted = math.ceil(max(0, current.backlog) / max(1, component.batch_size))
        n = share(min(free, wanted), chain, chains_count)
        if n > 0:
            counts[name] = n
    return counts


def watch_plan(status: Mapping[str, Status], config: RuntimeConfig) -> dict[str, int]:
    """Invocations the entry watch starts: as `plan`, less those already in flight, which take
    the backlog's batches themselves (a start made at the previous look may still be cold)."""
    counts: dict[str, int] = {}
    for name, n in plan(status, config, 0, 1).items():
        n = min(n, math.ceil(status[name].backlog / config.components[name].batch_size)
                - status[name].in_flight)
        if n > 0:
            counts[name] = n
    return counts
