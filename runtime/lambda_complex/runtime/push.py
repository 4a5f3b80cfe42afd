"""Push dispatch: a component that has just sent results to a queue component starts that
component itself when it has a free slot, so a message moves on within a second instead of
waiting for the coordinator's next generation.

The slot is a lease from the pool the coordinator takes from (`inflight`). The pool holds exactly
`max_concurrency` tokens, so receiving one is holding a free slot: the limit holds exactly, limit
1 included, whoever starts the invocation. No token visible means every slot is busy (or, on real
SQS, the short poll missed one): the running invocations and the coordinator take the message,
as they would without push. The coordinator stays the backstop for backlogs, crashes, retries
and pushes that failed.

Cost, per settle step that sent results to a component (at most one per PUSH_AGAIN_S for each
sender invocation and target): one ReceiveMessage on its lease pool, and when a slot is free one
asynchronous Invoke. The started invocation hands its lease back at its end,
as every invocation does. While dispatch is stopped (`lcbuild pause`, a deploy) nothing is
pushed: the pause switch is read at most once per `PAUSE_CHECK_S` per warm instance, so a pause
takes effect for push within that time; a switchover waits for leases anyway, and a pushed
invocation holds one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from . import control, inflight, invoker, log, names, resources
from .config import RuntimeConfig
from .protocol import PUSH_SOURCE, Nudge

PAUSE_CHECK_S = 10.0

_pause_read: dict[str, tuple[float, bool]] = {}  # app -> (monotonic time read, paused)
# A sender invocation tries to start a component again only this long after its last try,
# whether that try started one or found no free slot.
PUSH_AGAIN_S = 5.0
# When this invocation last tried to start each component (per thread: Lambda runs one
# invocation per instance at a time, the benches and tests several in threads).
_invocation = threading.local()


def new_invocation() -> None:
    """Called as an invocation starts: it has tried to start nothing yet."""
    _invocation.tried = {}


def _tried_at() -> dict[str, float]:
    tried: dict[str, float] | None = getattr(_invocation, "tried", None)
    if tried is None:
        tried = _invocation.tried = {}
    return tried


def recently_tried(now: float) -> frozenset[str]:
    """The components this invocation tried to start less than PUSH_AGAIN_S ago."""
    return frozenset(c for c, at in _tried_at().items() if now - at < PUSH_AGAIN_S)


def targets(fed: Iterable[str], config: RuntimeConfig, recent: Iterable[str] = ()) -> list[str]:
    """Of the queue components just sent results, those to try to start: each whose dispatch
    includes push, unless this invocation tried to within PUSH_AGAIN_S (`recent`). A started
    invocation takes every message it finds until its queue is empty, and so does every
    invocation holding a slot when none was free; so a try per sender invocation moves a
    trickle on at once, while a sender working through a backlog does not try once per batch,
    to start an invocation that would mostly find the queue drained or to find every slot busy
    again (a fresh deployment's backlog into a full pool: 200 of 1,036 calls)."""
    skip = set(recent)
    chosen: list[str] = []
    for name in fed:
        component = config.components.get(name)
        if component is not None and component.push and name not in chosen and name not in skip:
            chosen.append(name)
    return chosen


def _paused(config: RuntimeConfig, now: float) -> bool:
    read = _pause_read.get(config.app)
    if read is not None and now - read[0] < PAUSE_CHECK_S:
        return read[1]
    name = names.control_parameter_name(config.app)
    try:
        found = resources.ssm().get_parameters(Names=[name])["Parameters"]
        paused = control.value_means_paused(found[0]["Value"] if found else None)
    except Exception as e:  # unknown: do not push; the coordinator decides
        log.emit("push_skipped", reason=f"pause switch unreadable: {e}")
        return True
    _pause_read[config.app] = (now, paused)
    return paused


def start(config: RuntimeConfig, components: Iterable[str]) -> None:
    """Start one invocation of each component that has a free slot (one without: the
    coordinator starts it later)."""
    wanted = list(components)
    if not wanted or _paused(config, time.monotonic()):
        return
    for component in wanted:
        lease = inflight.take_free(config.app, component, config.components[component].timeout)
        _tried_at()[component] = time.monotonic()
        if lease is None:
            continue
        error = invoker.invoke_async(names.function_name(config.app, component),
                                     Nudge(lease, PUSH_SOURCE).to_dict())
        if error:
            log.emit("push_failed", component=component, error=error)
            inflight.hand_back(config.app, component, [lease])
