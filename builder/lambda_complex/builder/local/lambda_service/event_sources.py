"""Lambda's SQS event source mapping, the rules as data: which mappings poll, how many batches
may run at once, how a batch is gathered, the event the function gets, and which messages a
response lets Lambda delete. The pollers that apply them are `event_source_pollers`.

What AWS does, and so what this models (moto stores mappings but ignores all of it):

- Scaling: without `ScalingConfig`, Lambda starts with five concurrent batches and adds pollers
  under backlog, up to 1,000; `ScalingConfig.MaximumConcurrency` (2..1000) caps the concurrent
  invocations one mapping makes.
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-eventsourcemapping-scalingconfig.html
- Batching: `BatchSize` (default 10; standard queues up to 10,000, FIFO up to 10) records per
  invocation, gathered for at most `MaximumBatchingWindowInSeconds` (0..300, default 0; a batch
  size above 10 needs a window of at least 1 s); a batch also ends at the synchronous invocation
  payload limit (6 MB). One ReceiveMessage returns at most 10 messages.
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
  https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
- Outcome: a batch whose invocation succeeds is deleted; one whose invocation fails stays, and
  its messages come back after the queue's visibility timeout (the queue's redrive policy moves
  them to its dead-letter queue after maxReceiveCount receives). With `FunctionResponseTypes:
  [ReportBatchItemFailures]` a successful invocation may name the messages that failed
  (`{"batchItemFailures": [{"itemIdentifier": messageId}]}`): the others are deleted. An empty or
  null list, or an empty or null response, is complete success; an invalid response, an empty,
  null or missing itemIdentifier, or one that is not a message of the batch is complete failure.
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
  https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html (the same
  success and failure conditions, spelled out)
- State: a mapping whose `State` is not `Enabled` (created with `Enabled: false`, or updated to
  it) does not poll; enabling it again resumes polling.
- The event: `{"Records": [...]}`, one record per message (`messageId`, `receiptHandle`, `body`,
  `attributes`, `messageAttributes`, `md5OfBody`, `eventSource: "aws:sqs"`, `eventSourceARN`,
  `awsRegion`). https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from lambda_complex.builder.local.lambda_service.functions import function_name_from
from lambda_complex.builder.local.lambda_service.service import MAX_SYNC_PAYLOAD

ENABLED = "Enabled"
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
MAX_RECEIVE = 10  # messages one ReceiveMessage call returns at most
DEFAULT_BATCH_SIZE = 10
MAX_BATCH_SIZE = 10_000
MAX_FIFO_BATCH_SIZE = 10
MAX_WINDOW = 300  # seconds
MIN_MAX_CONCURRENCY, MAX_MAX_CONCURRENCY = 2, 1000
STARTING_CONCURRENCY = 5  # batches Lambda starts with when no maximum concurrency is set
MAX_PAYLOAD = MAX_SYNC_PAYLOAD  # a batch is invoked synchronously


@dataclass(frozen=True)
class SqsMapping:
    """One SQS event source mapping as Lambda applies it."""

    uuid: str
    function: str  # the function's name
    queue_arn: str
    enabled: bool
    batch_size: int = DEFAULT_BATCH_SIZE
    window: float = 0.0  # MaximumBatchingWindowInSeconds
    max_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    report_item_failures: bool = False

    @property
    def queue_name(self) -> str:
        return self.queue_arn.rsplit(":", 1)[-1]

    @property
    def account_id(self) -> str:
        return self.queue_arn.split(":")[4]

    @property
    def region(self) -> str:
        return self.queue_arn.split(":")[3]

    @property
    def fifo(self) -> bool:
        return self.queue_name.endswith(".fifo")


def mapping_from(configuration: Mapping[str, Any]) -> SqsMapping | None:
    """The mapping of one ListEventSourceMappings entry; None unless its source is an SQS queue."""
    arn = str(configuration.get("EventSourceArn") or "")
    if not arn.startswith("arn:") or arn.split(":")[2:3] != ["sqs"]:
        return None
    scaling = configuration.get("ScalingConfig") or {}
    maximum = scaling.get("MaximumConcurrency") if isinstance(scaling, Mapping) else None
    return SqsMapping(
        uuid=str(configuration["UUID"]),
        function=function_name_from(str(configuration["FunctionArn"])),
        queue_arn=arn,
        enabled=configuration.get("State") == ENABLED,
        batch_size=int(configuration.get("BatchSize") or DEFAULT_BATCH_SIZE),
        window=float(configuration.get("MaximumBatchingWindowInSeconds") or 0),
        max_concurrency=None if maximum is None else int(maximum),
        report_item_failures=REPORT_BATCH_ITEM_FAILURES
        in (configuration.get("FunctionResponseTypes") or ()),
    )


def problem(mapping: SqsMapping) -> str | None:
    """Why AWS would have refused this mapping (InvalidParameterValueException), in one
    sentence; None if it is valid. The emulator stores any value."""
    where = f"event source mapping {mapping.uuid} ({mapping.queue_name} -> {mapping.function})"
    top = MAX_FIFO_BATCH_SIZE if mapping.fifo else MAX_BATCH_SIZE
    if not 1 <= mapping.batch_size <= top:
        return f"{where}: BatchSize {mapping.batch_size} is not between 1 and {top}"
    if not 0 <= mapping.window <= MAX_WINDOW:
        return (f"{where}: MaximumBatchingWindowInSeconds {mapping.window:g} is not between 0 "
                f"and {MAX_WINDOW}")
    if mapping.fifo and mapping.window:
        return f"{where}: a FIFO queue takes no MaximumBatchingWindowInSeconds"
    if mapping.batch_size > MAX_RECEIVE and mapping.window < 1:
        return (f"{where}: BatchSize {mapping.batch_size} is above {MAX_RECEIVE}, which needs "
                f"MaximumBatchingWindowInSeconds of at least 1")
    maximum = mapping.max_concurrency
    if maximum is not None and not MIN_MAX_CONCURRENCY <= maximum <= MAX_MAX_CONCURRENCY:
        return (f"{where}: ScalingConfig.MaximumConcurrency {maximum} is not between "
                f"{MIN_MAX_CONCURRENCY} and {MAX_MAX_CONCURRENCY}")
    return None


def pollers_for(mapping: SqsMapping, unset_limit: int = STARTING_CONCURRENCY) -> int:
    """How many batches of this mapping may be in the function at once (each poller gathers a
    batch, invokes, settles, so this is also the most concurrent invocations): none when
    disabled or invalid; MaximumConcurrency when set; otherwise `unset_limit` (Lambda starts at
    five and may scale far beyond: locally a fixed number of pollers stands for that)."""
    if not mapping.enabled or problem(mapping) is not None:
        return 0
    return mapping.max_concurrency if mapping.max_concurrency is not None else unset_limit


class Gathering(NamedTuple):
    """A batch being gathered: how many records and bytes so far, since when (monotonic s)."""

    records: int
    payload: int
    first_at: float | None  # when the first record arrived; None while there is none


def next_receive(mapping: SqsMapping, batch: Gathering, now: float) -> int:
    """How many messages to ask for next; 0: the batch is complete, invoke. With no window a
    batch is what one receive returns; with one, receives go on until the batch size, the
    payload limit or the end of the window since the first record."""
    left = mapping.batch_size - batch.records
    if left <= 0 or batch.payload >= MAX_PAYLOAD:
        return 0
    if batch.first_at is not None and (
        mapping.window <= 0 or now - batch.first_at >= mapping.window
    ):
        return 0
    return min(MAX_RECEIVE, left)


def poll_time(mapping: SqsMapping, batch: Gathering, now: float, idle_wait: float) -> float:
    """How long the next receive may wait for messages: `idle_wait` while nothing is gathered,
    else what is left of the window (never more than `idle_wait`, never below 0)."""
    if batch.first_at is None:
        return idle_wait
    return max(0.0, min(idle_wait, mapping.window - (now - batch.first_at)))


def fitting(sizes: Sequence[int], payload: int) -> int:
    """How many of the next records (their sizes, in order) fit in a batch of `payload` bytes
    so far; at least one when the batch is empty (a single oversized message still gets its
    invocation, which refuses it as Lambda would)."""
    count = 0
    for size in sizes:
        if payload + size > MAX_PAYLOAD and (count or payload):
            break
        payload += size
        count += 1
    return count


# The event.
def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [_b64(b) for b in value.get("BinaryListValues", [])],
        "dataType": value.get("DataType"),
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = _b64(value["BinaryValue"])
    return out


def _b64(value: bytes | str) -> str:
    return value if isinstance(value, str) else base64.b64encode(value).decode()


def record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """The record Lambda makes of one ReceiveMessage message (as boto3 returns it, received with
    every system and message attribute)."""
    out: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if "MD5OfMessageAttributes" in message:
        out["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return out


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event a batch invokes the function with."""
    return {"Records": [record(m, queue_arn) for m in messages]}


def payload_size(message: Mapping[str, Any], queue_arn: str) -> int:
    """A message's share of the invocation payload: its record, as JSON, and a separator."""
    return len(json.dumps(record(message, queue_arn)).encode()) + 2


# The outcome.
class Settlement(NamedTuple):
    delete: frozenset[str]  # message ids Lambda deletes
    reason: str | None  # why some or all stay, None when all are deleted


def settle(
    message_ids: Sequence[str],
    succeeded: bool,
    response: bytes,
    report_item_failures: bool,
) -> Settlement:
    """Which messages of a batch are deleted after its invocation. `succeeded`: the invocation
    returned without a function error (an error, a throttle or a timeout: nothing is deleted);
    `response`: what the function returned (JSON)."""
    batch = frozenset(message_ids)
    if not succeeded:
        return Settlement(frozenset(), "the invocation failed")
    if not report_item_failures:
        return Settlement(batch, None)
    failed = item_failures(response, batch)
    if isinstance(failed, str):
        return Settlement(frozenset(), failed)
    return Settlement(batch - failed, None if not failed else f"{len(failed)} reported failed")


def item_failures(response: bytes, batch: frozenset[str]) -> frozenset[str] | str:
    """The message ids a partial batch response names, or why the response fails the whole
    batch (a sentence)."""
    text = response.strip()
    if not text:
        return frozenset()
    try:
        value = json.loads(text)
    except ValueError:
        return "the response is not JSON"
    if value is None:
        return frozenset()
    if not isinstance(value, dict):
        return f"the response is a JSON {type(value).__name__}, not an object"
    failures = value.get("batchItemFailures")
    if failures is None:
        return frozenset()
    if not isinstance(failures, list):
        return "batchItemFailures is not a list"
    named: set[str] = set()
    for i, entry in enumerate(failures):
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or not identifier:
            return f"batchItemFailures[{i}] has no itemIdentifier"
        if identifier not in batch:
            return f"batchItemFailures[{i}].itemIdentifier {identifier!r} is not in the batch"
        named.add(identifier)
    return frozenset(named)
