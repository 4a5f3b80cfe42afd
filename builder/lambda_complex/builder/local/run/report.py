"""The `lcbuild local run` report, computed (pure) from what the testbed observed.

Per component (the command contract of `lcbuild local run`): `invocations` (Lambda executions
of its function, retries included), `handled` (handler calls), `succeeded`, `failed` (handler or
routing-function calls that raised; each retry counts), `dead_lettered` (depth of its
dead-letter queue at the end), `max_concurrency_observed`. These count calls, from the wrapper's
log lines.

Accounting (totals.lost) counts messages, from what the queues and the SQS tap saw, never from
log lines (a worker killed between a delete and its log line would otherwise read as a loss).
The tap sees every SendMessage(Batch) and DeleteMessage(Batch) of the instances and of the
testbed (`--send`, `lcbuild ... --local`). For an `event_from_message` component c:
  created(c) = messages accepted into c's input queue (its `--send`s and routed results alike);
  settled(c) = messages deleted from c's input queue: done (results routed first) or
               dead-lettered by the wrapper (which sends them to c's dead-letter queue first);
  moved(c)   = messages SQS moved to c's dead-letter queue after max_receive_count: its depth,
               less what the wrapper sent there, plus what was taken out again (`lcbuild
               redrive`: each one is sent back into the input queue, so created once more);
  queued(c)  = visible + in flight + delayed in c's input queue;
  lost(c)    = created - settled - moved - queued (a surplus would be duplicates, not loss).
For an `event_from_invocation` component, the local Lambda service accounts for every `Event` it
accepted: finished, still queued or retrying, sent to the on-failure destination, or dropped
(lost: no destination, or the record could not be sent). Lambda's on-failure records of a message
component's failed nudges are counted apart (`failed_nudges`): they are not messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lambda_complex.builder.app.model import App, ComponentType
from lambda_complex.runtime import names, protocol

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
    return [x for x in lines
            if protocol.reads_message_line(x) and x.get("component") == component]


@dataclass(frozen=True)
class Tapped:
    """What the SQS tap counted, per queue name."""

    sent: Mapping[str, int]
    deleted: Mapping[str, int]


def wrapper_dead_letters(lines: Iterable[Mapping[str, Any]]) -> int:
    """Inputs the wrapper itself sent to the dead-letter queue (distinct, from its log lines):
    what `done` leaves out of the inputs settled. Display only: `lost` never depends on it."""
    return len({line.get("message_id") for line in lines
                if line.get("outcome") == protocol.Outcome.DEAD_LETTERED})


def _message_accounting(c: Component, dlq: str, fn: Mapping[str, Any], depth: Depth,
                        tap: Tapped, lines: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    assert c.queue is not None
    made = int(tap.sent.get(c.queue, 0))
    settled = int(tap.deleted.get(c.queue, 0))
    # Sent into the dead-letter queue: by the wrapper, or moved there by a switchover from a
    # renamed component's (both through the tap).
    sent_to_dlq = int(tap.sent.get(dlq, 0))
    redriven = int(tap.deleted.get(dlq, 0))
    nudges = int(fn.get("dead_lettered", 0))  # Lambda records of failed nudges (not messages)
    moved = max(depth.dead_lettered - sent_to_dlq + redriven - nudges, 0)
    missing = made - settled - moved - depth.queued
    return {
        "created": made,
        "done": settled - wrapper_dead_letters(lines),
        "dead_lettered": depth.dead_lettered - nudges,
        "redriven": redriven,
        "queued": depth.queued,
        "failed_nudges": nudges,
        "lost": max(missing, 0),
        "duplicates": max(-missing, 0),
    }


def _invocation_accounting(dlq: str, fn: Mapping[str, Any], depth: Depth, tap: Tapped,
                           lines: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    accepted = int(fn.get("async_accepted", 0))
    queued = int(fn.get("async_in_flight", 0))
    records, dropped = int(fn.get("dead_lettered", 0)), int(fn.get("dropped", 0))
    return {
        "created": accepted,
        "done": accepted - queued - records - dropped - wrapper_dead_letters(lines),
        "dead_lettered": depth.dead_lettered,
        "redriven": int(tap.deleted.get(dlq, 0)),
        "queued": queued,
        "failed_nudges": 0,
        "lost": dropped,
        "duplicates": 0,
    }


def build(
    components: Iterable[Component],
    stats: Mapping[str, Mapping[str, Any]],
    lines: Sequence[Mapping[str, Any]],
    depths: Mapping[str, Depth],
    tap: Tapped,
    sent: int,
    dead_letter_queues: Mapping[str, str],
) -> dict[str, Any]:
    """The report (JSON-able): components, totals, and the accounting behind `lost`.
    `dead_letter_queues`: component -> its dead-letter queue's name."""
    per: dict[str, dict[str, int]] = {}
    accounting: dict[str, dict[str, int]] = {}
    for c in components:
        fn = stats.get(c.function, {})
        mine = message_lines(lines, c.name)
        depth = depths.get(c.name, Depth(0, 0))
        dlq = dead_letter_queues[c.name]
        accounting[c.name] = (_message_accounting(c, dlq, fn, depth, tap, mine)
                              if c.kind == MESSAGE
                              else _invocation_accounting(dlq, fn, depth, tap, mine))
        per[c.name] = {
            "invocations": int(fn.get("invocations", 0)),
            "handled": sum(1 for x in mine if handler_called(x)),
            "succeeded": sum(1 for x in mine if x.get("outcome") in protocol.DONE),
            "failed": sum(1 for x in mine if handler_raised(x)),
            "dead_lettered": accounting[c.name]["dead_lettered"],
            "max_concurrency_observed": int(fn.get("max_concurrency_observed", 0)),
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


def components_of(app: App) -> list[Component]:
    """The components of `app` as the report counts them."""
    found = []
    for c in app.components:
        message = c.type == ComponentType.EVENT_FROM_MESSAGE
        found.append(
            Component(
                name=c.name,
                kind=MESSAGE if message else INVOCATION,
                function=names.function_name(app.name, c.name),
                queue=names.queue_name(app.name, c.name) if message else None,
            )
        )
    return found
