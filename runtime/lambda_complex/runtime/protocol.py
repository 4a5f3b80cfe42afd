"""The wire protocol: every message that passes between the parts of an application, defined once.

Each message is plain JSON. `protocol.schema.json`, beside this module, is the written contract
(JSON Schema, one definition per message below); the tests check that the code writes what it
says and that the two never drift apart. Readers ignore fields they do not know, so a field can
be added without a new version.

Versions. `PROTOCOL_VERSION` (kept apart from the package's version: a release that changes no
message keeps it) is written as `lc` into the envelope and into the message log line.
- A reader of an envelope whose `lc` it does not read (`READS_VERSIONS`) treats it as malformed:
  the wrapper dead-letters the input at once, with a reason naming the version, so it can be
  redriven (`lcbuild redrive`) once a runtime that reads it is deployed. Nothing is retried in
  vain, nothing is lost.
- A reader of log lines (the local report, `lcbuild trace`, `lcbuild local invoke`) takes only
  lines of a version it reads (`reads_message_line`) and skips the others; a line without `lc`
  is taken as version 1. Accounting never depends on log lines (the report counts messages from
  the queues), so a skipped line changes a call count, never `lost`.
- The events below carry no version: the coordinator, the invoker and the components that read
  them are built from one release of this package.

The messages:
- **envelope** (`Envelope`), every queue message body and invocation payload:
  `{"lc": 1, "trace_id", "hops", "source", "data"}`. The trace id follows one input through the
  whole chain (and every log line); `hops` counts the components passed and stops routing loops
  at `max_hops`; `source` is the component that sent it (`external` for input from outside).
- **nudge** (`Nudge`), what the coordinator or an invoker sends to start a message component:
  `{"source": "coordinator" | "push", "lease"?}` (`push`: sent by the component that fed the
  queue, see `push`). The work is in the component's queue; `lease` is the
  receipt of the invocation's in-flight token (see `inflight`), handed back when it ends.
- **chain event** (`ChainEvent`), one coordinator generation:
  `{"chain", "generation", "lineage"}` (see `chains`).
- **schedule input** (`SCHEDULE_INPUT`), what the EventBridge rule passes the coordinator every
  minute: `{"source": "schedule"}`. Any coordinator event that is not a chain event is taken as
  the schedule (restart stale chains), so EventBridge's default "Scheduled Event" works too.
- **invoker event** (`InvokerEvent`), a share of a fan-out handed to a child invoker:
  `{"invocations": [{"component", "count"}, ...]}`.
- **SQS event** (`is_sqs_event`, `sqs_records`), what Lambda's SQS event source mapping invokes a
  `dispatch: native` component with: `{"Records": [{"messageId", "receiptHandle", "body",
  "attributes": {"ApproximateReceiveCount", ...}, "messageAttributes", "md5OfBody",
  "eventSource": "aws:sqs", "eventSourceARN", "awsRegion"}, ...]}`, up to the mapping's batch
  size; each body is an envelope. Written by AWS, so unversioned; the wrapper reads `messageId`,
  `body` and the receive count only.
  https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
- **batch response** (`batch_response`), the wrapper's answer to an SQS event (the mapping has
  `FunctionResponseTypes: [ReportBatchItemFailures]`): `{"batchItemFailures": [{"itemIdentifier":
  messageId}, ...]}`, naming the records that must come back; Lambda deletes the others.
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
- **local invoke event** (`local_invoke_event`), `lcbuild local invoke`'s direct input:
  `{"lc_local_invoke": {"body": "<one input as JSON text>"}}`, honoured only with dry routing on.
- **message log line** (`MessageLine`), one per input an invocation settled, the line monitoring
  counts: `{"ts", "event": "message", "lc", "component", "trace_id", "hops", "message_id",
  "outcome", "duration_ms", "reason", "handler_called", "failed"}`; `outcome` is an `Outcome`,
  `handler_called` says whether the user's handler ran, `failed` whether the handler raised (and
  no routing function diverted it) or the routing function raised.
- **route log line** (`RouteLine`), with dry routing: one per send that would have been made,
  `{"ts", "event": "route", "target", "kind", "body"}`, `kind` a `RouteKind`.
- **dead letter**: the input exactly as received, as the message body, with the message
  attributes `lc_reason`, `lc_component`, `lc_input_id` (`dead_letter_attributes`).

Pure: the standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, NamedTuple

PROTOCOL_VERSION = 1
READS_VERSIONS = frozenset({PROTOCOL_VERSION})
VERSION_KEY = "lc"
SCHEMA_FILE_NAME = "protocol.schema.json"


# --- the envelope ---------------------------------------------------------------------------

EXTERNAL = "external"  # the source of input from outside (`lcbuild local run --send`, users)
_ENVELOPE_KEYS = frozenset({VERSION_KEY, "trace_id", "hops", "source", "data"})


class PermanentError(Exception):
    """Retrying cannot help: the input goes to the dead-letter queue at once, with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EnvelopeError(PermanentError):
    """Malformed JSON, or JSON that is not an envelope this runtime reads."""


class HopLimitExceeded(PermanentError):
    """A result would travel more than max_hops: most likely a routing loop."""


def new_trace_id() -> str:
    # os.urandom instead of uuid: same uniqueness, no import cost.
    return os.urandom(16).hex()


class Envelope(NamedTuple):
    trace_id: str
    hops: int
    source: str
    data: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            VERSION_KEY: PROTOCOL_VERSION,
            "trace_id": self.trace_id,
            "hops": self.hops,
            "source": self.source,
            "data": self.data,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def new_envelope(data: Any, source: str = EXTERNAL) -> Envelope:
    """A fresh envelope for data entering the application (hop 0)."""
    return Envelope(trace_id=new_trace_id(), hops=0, source=source, data=data)


def envelope_from_dict(value: Any) -> Envelope:
    if not isinstance(value, dict):
        raise EnvelopeError(f"not an envelope: a JSON {type(value).__name__}, not an object")
    version = value.get(VERSION_KEY)
    if type(version) is not int or version not in READS_VERSIONS:
        readable = ", ".join(str(v) for v in sorted(READS_VERSIONS))
        raise EnvelopeError(
            f"not an envelope: {VERSION_KEY!r} is {version!r}, not a protocol version this "
            f"runtime reads ({readable})"
        )
    missing = sorted(_ENVELOPE_KEYS - value.keys())
    if missing:
        raise EnvelopeError(f"not an envelope: missing {', '.join(missing)}")
    trace_id, hops, source = value["trace_id"], value["hops"], value["source"]
    if not isinstance(trace_id, str) or not trace_id:
        raise EnvelopeError("not an envelope: 'trace_id' must be a non-empty string")
    if not isinstance(hops, int) or isinstance(hops, bool) or hops < 0:
        raise EnvelopeError("not an envelope: 'hops' must be an integer >= 0")
    if not isinstance(source, str):
        raise EnvelopeError("not an envelope: 'source' must be a string")
    return Envelope(trace_id=trace_id, hops=hops, source=source, data=value["data"])


def parse_envelope(body: str) -> Envelope:
    """A queue message body -> Envelope, or EnvelopeError with the reason."""
    try:
        value = json.loads(body)
    except (ValueError, TypeError) as e:
        raise EnvelopeError(f"malformed JSON: {e}") from None
    return envelope_from_dict(value)


def envelope_from_event(event: Any) -> Envelope:
    """An invocation payload: an envelope, or a raw payload from outside (wrapped at hop 0).

    Anything carrying the `lc` key claims to be an envelope and must be a valid one."""
    if isinstance(event, dict) and VERSION_KEY in event:
        return envelope_from_dict(event)
    return new_envelope(event)


def next_hop(current: Envelope, source: str, data: Any, max_hops: int) -> Envelope:
    """The envelope of a result routed onwards from `current`."""
    hops = current.hops + 1
    if hops > max_hops:
        raise HopLimitExceeded(
            f"hop limit {max_hops} exceeded (routing loop?) at {source!r}, trace {current.trace_id}"
        )
    return Envelope(trace_id=current.trace_id, hops=hops, source=source, data=data)


# --- events that start functions --------------------------------------------------------------

NUDGE_SOURCE = "coordinator"  # also when an invoker sends it: the coordinator planned it
PUSH_SOURCE = "push"  # sent by a component that has just fed the queue (`push`)
NUDGE_SOURCES = frozenset({NUDGE_SOURCE, PUSH_SOURCE})
SCHEDULE_SOURCE = "schedule"
SCHEDULE_INPUT: Mapping[str, str] = {"source": SCHEDULE_SOURCE}


class Nudge(NamedTuple):
    lease: str | None = None
    source: str = NUDGE_SOURCE

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source}
        if self.lease:
            data["lease"] = self.lease
        return data

    @classmethod
    def from_event(cls, event: Any) -> Nudge:
        """Any event starts a message component (its work is in the queue); only a string lease
        is one."""
        lease = event.get("lease") if isinstance(event, dict) else None
        source = event.get("source") if isinstance(event, dict) else None
        return cls(lease if isinstance(lease, str) else None,
                   source if isinstance(source, str) else NUDGE_SOURCE)


class ChainEvent(NamedTuple):
    chain: int
    generation: int
    lineage: str

    def to_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "generation": self.generation, "lineage": self.lineage}

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> ChainEvent:
        return cls(int(event["chain"]), int(event["generation"]), str(event["lineage"]))


def is_chain_event(event: Any) -> bool:
    """A coordinator event is a chain event, or else the schedule."""
    return isinstance(event, dict) and "chain" in event


class InvokerEvent(NamedTuple):
    invocations: list[tuple[str, int]]  # (component, count), count > 0

    def to_dict(self) -> dict[str, Any]:
        return {"invocations": [{"component": c, "count": n} for c, n in self.invocations]}

    @classmethod
    def from_event(cls, event: Any) -> InvokerEvent:
        items = event.get("invocations", []) if isinstance(event, dict) else []
        return cls([(str(i["component"]), int(i["count"])) for i in items
                    if int(i.get("count", 0)) > 0])


SQS_EVENT_SOURCE = "aws:sqs"
RECORDS_KEY = "Records"
BATCH_ITEM_FAILURES_KEY = "batchItemFailures"
ITEM_IDENTIFIER_KEY = "itemIdentifier"
RECEIVE_COUNT_ATTRIBUTE = "ApproximateReceiveCount"


class SqsRecord(NamedTuple):
    """What the wrapper reads of one record of an SQS event."""

    message_id: str
    body: str
    receive_count: int  # 1 on the first receive
    receipt_handle: str = ""  # "" when the record has none (then its visibility stays as it is)


def _is_sqs_record(record: Any) -> bool:
    return (isinstance(record, dict) and record.get("eventSource") == SQS_EVENT_SOURCE
            and isinstance(record.get("messageId"), str) and bool(record["messageId"]))


def is_sqs_event(event: Any) -> bool:
    """An SQS event source mapping's batch: records, every one from SQS with a message id."""
    records = event.get(RECORDS_KEY) if isinstance(event, dict) else None
    return isinstance(records, list) and bool(records) and all(map(_is_sqs_record, records))


def sqs_record(record: Mapping[str, Any]) -> SqsRecord:
    """One record of an SQS event (`is_sqs_event`). A body that is not a string reads as "",
    which is no envelope; a missing or unreadable receive count as the first receive."""
    body = record.get("body")
    attributes = record.get("attributes")
    count = attributes.get(RECEIVE_COUNT_ATTRIBUTE) if isinstance(attributes, dict) else None
    try:
        receive_count = max(1, int(count)) if count is not None else 1
    except (TypeError, ValueError):
        receive_count = 1
    receipt = record.get("receiptHandle")
    return SqsRecord(str(record["messageId"]), body if isinstance(body, str) else "",
                     receive_count, receipt if isinstance(receipt, str) else "")


def sqs_records(event: Mapping[str, Any]) -> list[SqsRecord]:
    return [sqs_record(r) for r in event[RECORDS_KEY]]


def batch_response(failed: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """The answer to an SQS event: the message ids of the records that must come back."""
    return {BATCH_ITEM_FAILURES_KEY: [{ITEM_IDENTIFIER_KEY: key} for key in failed]}


LOCAL_INVOKE_KEY = "lc_local_invoke"


def local_invoke_event(body: str) -> dict[str, Any]:
    return {LOCAL_INVOKE_KEY: {"body": body}}


def local_invoke_body(event: Any) -> str | None:
    """The input of a local invoke event; None for any other event. A local invoke event without
    a string body is a ValueError."""
    if not isinstance(event, dict) or LOCAL_INVOKE_KEY not in event:
        return None
    request = event[LOCAL_INVOKE_KEY]
    body = request.get("body") if isinstance(request, dict) else None
    if not isinstance(body, str):
        raise ValueError(f"{LOCAL_INVOKE_KEY}.body must be a string (one input's JSON)")
    return body


# --- log lines --------------------------------------------------------------------------------

MESSAGE_EVENT = "message"
ROUTE_EVENT = "route"


class Outcome(StrEnum):
    """What became of one input, as the message log line says."""

    SUCCEEDED = "succeeded"  # handled; results routed; deleted
    DIVERTED = "diverted"  # the handler raised, a routing function sent the failure on: done
    FAILED = "failed"  # left for redelivery (then the dead-letter queue by SQS's redrive)
    DEAD_LETTERED = "dead_lettered"  # sent to the dead-letter queue with a reason; deleted
    RELEASED = "released"  # handed back unhandled: the invocation's time ran short
    DELETE_FAILED = "delete_failed"  # settled, but the delete failed: it will be redelivered


DONE = frozenset({Outcome.SUCCEEDED, Outcome.DIVERTED})


class MessageLine(NamedTuple):
    component: str
    trace_id: str | None  # None when the input was not an envelope
    message_id: str  # the SQS message id, or the invocation's request id
    outcome: Outcome
    duration_ms: float
    reason: str | None = None
    hops: int | None = None
    handler_called: bool = False
    failed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": MESSAGE_EVENT,
            VERSION_KEY: PROTOCOL_VERSION,
            "component": self.component,
            "trace_id": self.trace_id,
            "hops": self.hops,
            "message_id": self.message_id,
            "outcome": str(self.outcome),
            "duration_ms": round(self.duration_ms, 1),
            "reason": self.reason,
            "handler_called": self.handler_called,
            "failed": self.failed,
        }


def reads_message_line(record: Mapping[str, Any]) -> bool:
    """A message log line of a protocol version this reader reads (no `lc`: version 1)."""
    return record.get("event") == MESSAGE_EVENT and record.get(VERSION_KEY, 1) in READS_VERSIONS


class RouteKind(StrEnum):
    QUEUE = "queue"  # SendMessageBatch to an event_from_message component's queue
    INVOCATION = "invocation"  # asynchronous Invoke of an event_from_invocation component
    DEAD_LETTER = "dead_letter"  # the component's own dead-letter queue


class RouteLine(NamedTuple):
    target: str
    kind: RouteKind
    body: str

    def to_dict(self) -> dict[str, Any]:
        return {"event": ROUTE_EVENT, "target": self.target, "kind": str(self.kind),
                "body": self.body}


# --- dead letters -----------------------------------------------------------------------------

REASON_ATTRIBUTE = "lc_reason"
COMPONENT_ATTRIBUTE = "lc_component"
INPUT_ID_ATTRIBUTE = "lc_input_id"
REASON_MAX_CHARS = 1000  # of the reason kept in the attribute (the log line has all of it)


def dead_letter_attributes(reason: str, component: str, input_id: str) -> dict[str, Any]:
    """SQS message attributes of a dead letter the wrapper sends."""

    def text(value: str) -> dict[str, str]:
        return {"DataType": "String", "StringValue": value}

    return {
        REASON_ATTRIBUTE: text(reason[:REASON_MAX_CHARS]),
        COMPONENT_ATTRIBUTE: text(component),
        INPUT_ID_ATTRIBUTE: text(input_id),
    }
