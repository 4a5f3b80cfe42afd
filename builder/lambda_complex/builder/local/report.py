"""The `lcbuild local run` report, computed (pure) from what the testbed observed.

Per component (DESIGN.md): `invocations` (Lambda executions of its function, retries included),
`handled` (handler calls), `succeeded`, `failed` (handler calls that raised; each retry counts),
`dead_lettered` (depth of its dead-letter queue at the end), `max_concurrency_observed`.

Accounting (totals.lost). Every message the run created is an input of one component:
  created(c) = messages accepted into c's input queue (counted at the sender: the SQS tap sees
               every SendMessage/SendMessageBatch, the testbed's `--send`s and routed results
               alike), or, for an `event_from_invocation` component, `Event` invocations its
               function accepted (the local Lambda service counts them; retries are not new).
Each one must end in exactly one of:
  done(c)   = distinct inputs (SQS message id / async request id) whose last outcome logged by
              the wrapper was `succeeded` or `diverted` (results routed, input deleted);
  dead(c)   = the depth of c's dead-letter queue: SQS redrive after max_receive_count, the
              wrapper's own dead-lettering of malformed input, failed async events' records;
  queued(c) = still waiting: visible + in-flight + delayed messages of c's queue, or async
              events not yet finished by the service.
A dead letter taken out of the dead-letter queue again (`lcbuild redrive`: sent back to the input
queue, or its event invoked again) is created a second time, so
  redriven(c) = messages deleted from c's dead-letter queue (the SQS tap counts them)
are not new inputs:
lost(c) = created(c) - redriven(c) - done(c) - dead(c) - queued(c). Inputs handled twice
(at-least-once) are one distinct input, and their duplicate results are counted as created
downstream and must be accounted there too; a surplus (negative difference) means duplicates,
not loss, and is reported as `duplicates`. A dropped async event (no destination) and a message
deleted without its results sent both show up as lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DONE = frozenset({"succeeded", "diverted"})
MESSAGE = "message"
INVOCATION = "invocation"


@dataclass(frozen=True)
class Component:
    name: str
    kind: str  # MESSAGE (event_from_message) or INVOCATION (event_from_invocation)
    function: str  # its Lambda function name
    queue: str | None  # its input queue name (MESSAGE only)


@dataclass(frozen=True)
class Depth:
    queued: int  # input queue: visible + not visible + delayed (0 without a queue)
    dead_lettered: int  # dead-letter queue: visible + not visible + delayed


def handler_called(line: Mapping[str, Any]) -> bool:
    """The wrapper says so in each message line (not for `released`: never handled)."""
    return bool(line.get("handler_called"))


def handler_raised(line: Mapping[str, Any]) -> bool:
    """The handler raised (a failure no routing function diverted) or the routing function
    raised: each such call counts, retries included."""
    return bool(line.get("failed"))


def message_lines(lines: Iterable[Mapping[str, Any]], component: str) -> list[Mapping[str, Any]]:
    return [x for x in lines if x.get("event") == "message" and x.get("component") == component]


def done_inputs(lines: Iterable[Mapping[str, Any]]) -> int:
    """Distinct inputs whose last logged outcome was done (lines in log order per input)."""
    last: dict[str, str] = {}
    for line in lines:
        key, outcome = line.get("message_id"), line.get("outcome")
        if key is not None and outcome != "released":
            last[str(key)] = str(outcome)
    return sum(1 for outcome in last.values() if outcome in DONE)


def created(c: Component, stats: Mapping[str, Any], tap_sent: Mapping[str, int]) -> int:
    if c.kind == MESSAGE and c.queue is not None:
        return int(tap_sent.get(c.queue, 0))
    return int(stats.get("async_accepted", 0))


def still_queued(c: Component, stats: Mapping[str, Any], depth: Depth) -> int:
    if c.kind == MESSAGE:
        return depth.queued
    return int(stats.get("async_in_flight", 0))


def build(
    components: Iterable[Component],
    stats: Mapping[str, Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]],
    depths: Mapping[str, Depth],
    tap_sent: Mapping[str, int],
    sent: int,
    redriven: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The report (JSON-able): components, totals, and the accounting behind `lost`."""
    per: dict[str, dict[str, int]] = {}
    accounting: dict[str, dict[str, int]] = {}
    for c in components:
        fn = stats.get(c.function, {})
        mine = message_lines(lines, c.name)
        depth = depths.get(c.name, Depth(0, 0))
        per[c.name] = {
            "invocations": int(fn.get("invocations", 0)),
            "handled": sum(1 for x in mine if handler_called(x)),
            "succeeded": sum(1 for x in mine if x.get("outcome") in DONE),
            "failed": sum(1 for x in mine if handler_raised(x)),
            "dead_lettered": depth.dead_lettered,
            "max_concurrency_observed": int(fn.get("max_concurrency_observed", 0)),
        }
        made, done = created(c, fn, tap_sent), done_inputs(mine)
        again = (redriven or {}).get(c.name, 0)
        queued = still_queued(c, fn, depth)
        missing = made - again - done - depth.dead_lettered - queued
        accounting[c.name] = {
            "created": made,
            "redriven": again,
            "done": done,
            "dead_lettered": depth.dead_lettered,
            "queued": queued,
            "lost": max(missing, 0),
            "duplicates": max(-missing, 0),
        }
    return {
        "components": per,
        "totals": {
            "sent": sent,
            "dead_lettered": sum(a["dead_lettered"] for a in accounting.values()),
            "lost": sum(a["lost"] for a in accounting.values()),
        },
        "accounting": accounting,
    }
