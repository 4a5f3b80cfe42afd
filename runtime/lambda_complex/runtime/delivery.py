"""Delivering routed results: queue targets by SendMessageBatch, invocation targets by async Invoke;
dead letters to the component's dead-letter queue; inputs sent to their own queue again.

`prepare` is pure (envelopes, size limits); `deliver`, `dead_letter`, `send_again` and
`send_settled` (the sends of one `settle` step) are the I/O edge. A queue target that got
results is started at once when it has a free slot (`push`). Results of a whole batch of input
messages are sent together, so at batch_size 10 one SendMessageBatch carries up to ten results:
that is what keeps the call count per message below one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple, TypeVar

from . import log, names, push, resources, settle
from .config import EVENT_FROM_MESSAGE, RuntimeConfig
from .protocol import (
    Envelope,
    PermanentError,
    RouteKind,
    RouteLine,
    dead_letter_attributes,
    next_hop,
)
from .routing import RoutingError, Target

# SQS: one message body and one whole SendMessageBatch payload at most 1 MiB (since 2025; was
# 256 KiB). Lambda asynchronous invocation payloads: also 1 MiB since 2025.
SQS_MAX_BODY = 1_048_576
SQS_MAX_BATCH_BYTES = 1_048_576
SQS_MAX_BATCH_ENTRIES = 10
ASYNC_INVOKE_MAX_PAYLOAD = 1_048_576
# SendMessageBatch entries that failed with a server-side (not sender) fault are retried.
SEND_ATTEMPTS = 3

T = TypeVar("T")

# Set to "1" by `lcbuild local invoke`: every would-be send is logged as one route line
# (`protocol.RouteLine`) instead of being made, so one component runs alone with no AWS behind it.
DRY_ROUTING_ENV = "LAMBDA_COMPLEX_DRY_ROUTING"


def dry_routing() -> bool:
    return os.environ.get(DRY_ROUTING_ENV) == "1"


def _log_routes(items: Iterable[RouteLine]) -> None:
    for line in items:
        log.route(line)


class MessageTooLarge(PermanentError):
    pass


class DeliveryError(Exception):
    """Some results could not be delivered; the inputs they came from must stay for retry."""


class Outgoing(NamedTuple):
    source_key: str  # which input this result came from (its message id)
    target: str
    kind: RouteKind  # QUEUE or INVOCATION
    body: str


def prepare(
    source_key: str, current: Envelope, targets: Sequence[Target], config: RuntimeConfig
) -> list[Outgoing]:
    """Envelopes for every target of one input, checked against size limits before any send."""
    out = []
    for target in targets:
        component = config.components.get(target.name)
        if component is None:
            raise RoutingError(f"routing target {target.name!r} is not in this image's config")
        routed = next_hop(current, config.component, target.data, config.max_hops)
        try:
            body = routed.to_json()
        except (TypeError, ValueError) as e:
            raise RoutingError(
                f"result for {target.name!r} is not JSON serializable: {e}"
            ) from None
        kind = RouteKind.QUEUE if component.type == EVENT_FROM_MESSAGE else RouteKind.INVOCATION
        limit = SQS_MAX_BODY if kind == RouteKind.QUEUE else ASYNC_INVOKE_MAX_PAYLOAD
        size = len(body.encode("utf-8"))
        if size > limit:
            raise MessageTooLarge(
                f"result for {target.name!r} is {size} bytes, over the {limit}-byte {kind} limit"
            )
        out.append(Outgoing(source_key, target.name, kind, body))
    return out


def chunks(items: Iterable[T], size_of: Callable[[T], int]) -> Iterator[list[T]]:
    """SendMessageBatch groups: at most 10 entries and 1 MiB in total each."""
    chunk: list[T] = []
    size = 0
    for item in items:
        item_size = size_of(item)
        if chunk and (
            len(chunk) == SQS_MAX_BATCH_ENTRIES or size + item_size > SQS_MAX_BATCH_BYTES
        ):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def _send_chunk(app: str, target: str, chunk: list[Outgoing]) -> dict[str, str]:
    """Send one chunk; returns source_key -> reason for entries that failed for good."""
    queue_name = names.queue_name(app, target)
    pending = {str(i): item for i, item in enumerate(chunk)}
    failed: dict[str, str] = {}
    for attempt in range(SEND_ATTEMPTS):
        try:
            url = resources.queue_url(queue_name)
            response = resources.sqs().send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": i, "MessageBody": item.body} for i, item in pending.items()],
            )
        except Exception as e:
            if resources.is_missing_queue(e):
                # The cached URL may be stale (queue recreated): look it up again next attempt.
                resources.forget_queue_url(queue_name)
            if attempt == SEND_ATTEMPTS - 1:
                for item in pending.values():
                    failed[item.source_key] = f"send to {target!r} failed: {e}"
                return failed
            time.sleep(0.1 * 2**attempt)
            continue
        retry = {}
        for entry in response.get("Failed", []):
            item = pending[entry["Id"]]
            reason = f"send to {target!r} failed: {entry.get('Code')} {entry.get('Message', '')}"
            if entry.get("SenderFault"):
                failed[item.source_key] = reason
            else:
                retry[entry["Id"]] = item
                failed[item.source_key] = reason
        if not retry:
            return failed
        for item in retry.values():
            del failed[item.source_key]
        pending = retry
        time.sleep(0.1 * 2**attempt)
    return failed


def _invoke(app: str, item: Outgoing) -> str | None:
    try:
        response = resources.lambda_client().invoke(
            FunctionName=names.function_name(app, item.target),
            InvocationType="Event",
            Payload=item.body.encode("utf-8"),
        )
    except Exception as e:
        return f"invoke of {item.target!r} failed: {e}"
    if response.get("StatusCode") != 202:
        return f"invoke of {item.target!r} returned status {response.get('StatusCode')}"
    return None


def deliver(
    config: RuntimeConfig, outgoing: Iterable[Outgoing], push_targets: bool = True
) -> dict[str, str]:
    """Send everything; returns source_key -> reason for each input with a failed delivery.
    With `push_targets`, then start each queue target fed that has a free slot (`push`)."""
    if dry_routing():
        _log_routes(RouteLine(item.target, item.kind, item.body) for item in outgoing)
        return {}
    by_queue: dict[str, list[Outgoing]] = {}
    failed: dict[str, str] = {}
    for item in outgoing:
        if item.kind == RouteKind.QUEUE:
            by_queue.setdefault(item.target, []).append(item)
        else:
            reason = _invoke(config.app, item)
            if reason:
                failed.setdefault(item.source_key, reason)
    fed: list[str] = []
    for target, items in by_queue.items():
        sent = False
        for chunk in chunks(items, lambda o: len(o.body.encode("utf-8"))):
            chunk_failed = _send_chunk(config.app, target, chunk)
            sent = sent or len(chunk_failed) < len(chunk)
            for key, reason in chunk_failed.items():
                failed.setdefault(key, reason)
        if sent:
            fed.append(target)
    if push_targets:
        push.start(config, push.targets(fed, config, push.recently_tried(time.monotonic())))
    return failed


class DeadLetter(NamedTuple):
    key: str  # the input's message id / request id
    body: str  # the input exactly as received, so it can be redriven unchanged
    reason: str


def dead_letter(config: RuntimeConfig, letters: Sequence[DeadLetter]) -> dict[str, str]:
    """Send inputs to the component's dead-letter queue with the reason as message attributes.
    Returns key -> reason for letters that could not be sent (their inputs must stay queued)."""
    if not letters:
        return {}
    if dry_routing():
        _log_routes(RouteLine(config.component, RouteKind.DEAD_LETTER, d.body) for d in letters)
        return {}
    queue_name = names.dead_letter_queue_name(config.app, config.component)
    failed: dict[str, str] = {}
    for chunk in chunks(letters, lambda d: len(d.body.encode("utf-8")) + len(d.reason) + 200):
        by_id = {str(i): letter for i, letter in enumerate(chunk)}
        try:
            response = resources.sqs().send_message_batch(
                QueueUrl=resources.queue_url(queue_name),
                Entries=[
                    {
                        "Id": i,
                        "MessageBody": d.body,
                        "MessageAttributes": dead_letter_attributes(
                            d.reason, config.component, d.key
                        ),
                    }
                    for i, d in by_id.items()
                ],
            )
        except Exception as e:
            failed.update({d.key: f"dead-letter send failed: {e}" for d in chunk})
            continue
        for entry in response.get("Failed", []):
            failed[by_id[entry["Id"]].key] = f"dead-letter send failed: {entry.get('Code')}"
    return failed


def send_again(config: RuntimeConfig, inputs: Mapping[str, str]) -> set[str]:
    """Send inputs (key -> body exactly as received) to the component's own queue again, as new
    messages with a fresh receive count (`settle.to_send_again`); the keys sent."""
    failed = deliver(config, [Outgoing(key, config.component, RouteKind.QUEUE, body)
                              for key, body in inputs.items()], push_targets=False)
    return set(inputs) - set(failed)


def send_settled(
    config: RuntimeConfig,
    handled: Mapping[str, settle.Handled[Outgoing]],
    received: Callable[[str], str],
    push_targets: bool = True,
) -> settle.Sent:
    """The sends of one settle step: the results of the inputs done, then the inputs due for the
    dead-letter queue (`received(key)`: the input exactly as received). `push_targets`: see
    `deliver`."""
    delivery_failed = deliver(config, settle.outgoing(handled), push_targets)
    due = [DeadLetter(key, received(key), reason) for key, reason in settle.letters(handled)]
    return settle.Sent(delivery_failed, dead_letter(config, due))
