"""The `event_from_message` loop: receive a batch, handle each message, route the results, delete
what is done; repeat while the queue has messages and time remains.

Taking batch after batch (not one message per invocation, as the old design did) keeps a
concurrency slot busy between coordinator ticks; the next batch is received while the current
one is handled, so SQS latency overlaps work. The invocation's lease (taken by whoever started
it, see `inflight`) is handed back when it ends, whatever happened.
Time policy: before every receive and every handler call the remaining time must exceed a
reserve of max(20% of the timeout, 1 s, 1.5x the longest batch so far), so the batch in hand can
still be routed and deleted; the long poll is shortened to fit what is left. Messages received
but not started when time runs short are handed back at once (visibility 0). A failed message
gets a short visibility backoff so its retry is prompt; after max_receive_count receives SQS
redrive moves it to the dead-letter queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from . import delivery, handling, inflight, log, names, resources
from .config import RuntimeConfig
from .envelope import parse

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
    )

MIN_RESERVE_MS = 1000
DEFAULT_MAX_BACKOFF_S = 60


def reserve_ms(timeout_s: int, longest_batch_ms: float) -> float:
    return max(timeout_s * 1000 / 5, MIN_RESERVE_MS, 1.5 * longest_batch_ms)


def receive_wait(remaining_ms: int, reserve: float, queue_wait_time: int) -> int | None:
    """Long-poll seconds for the next receive, or None: too little time left to take more."""
    spare = remaining_ms - reserve
    if spare <= 0:
        return None
    return int(min(queue_wait_time, spare // 1000))


def retry_backoff_s(receive_count: int, visibility_timeout: int) -> int:
    """Visibility after a failure: 1, 2, 4, ... s, capped by the queue's own visibility timeout."""
    cap = visibility_timeout or DEFAULT_MAX_BACKOFF_S
    return int(min(2 ** max(receive_count - 1, 0), cap))


class Summary:
    """Counts of one invocation, returned and logged (`failed`: left for redelivery)."""

    def __init__(self) -> None:
        self.received = 0
        self.handled = 0
        self.succeeded = 0
        self.failed = 0
        self.dead_lettered = 0
        self.released = 0
        self.batches = 0
        self.stopped = "empty"

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class _Background:
    """One receive on its own thread, joined before the invocation ends:
    Lambda freezes a finished invocation's threads, so none may outlive it."""

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, fn: Any, args: Any, kwargs: Any) -> None:
        try:
            self._result = fn(*args, **kwargs)
        except BaseException as e:  # re-raised by get(), in the invocation's own thread
            self._error = e

    def get(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


def _receive(url: str, batch_size: int, wait: int) -> list[Any]:
    messages: list[Any] = (
        resources.sqs()
        .receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=batch_size,
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        .get("Messages", [])
    )
    return messages


def run(
    config: RuntimeConfig,
    user_handler: handling.UserHandler,
    routing_function: Any,
    context: Any,
    lease: str | None = None,
) -> dict[str, Any]:
    """Pipelined: the next batch is received while this one is handled, so SQS latency overlaps
    the handler's time instead of adding to it. A prefetched batch that time no longer allows is
    handed back at once, like untaken messages; the prefetch is always joined before the
    invocation returns."""
    own = config.own
    summary = Summary()
    queue_name = names.queue_name(config.app, own.name)
    pending: _Background | None = None
    # Whether `pending` was received while the previous batch was being handled, and whether that
    # batch may have put messages back in this queue after the receive was made (a result routed
    # to this very component, or a failed message's retry): then an empty answer is not final.
    prefetched = refilled = False
    feeds_itself = own.name in own.routing.possible_targets(config.components)
    url = ""
    try:
        url = resources.queue_url(queue_name)
        longest = 0.0
        while True:
            reserve = reserve_ms(own.timeout, longest)
            if pending is None:  # nothing prefetched: receive now, if time allows
                wait = receive_wait(
                    context.get_remaining_time_in_millis(), reserve, own.queue_wait_time
                )
                if wait is None:
                    summary.stopped = "time"
                    break
                pending, prefetched = _Background(_receive, url, own.batch_size, wait), False
            messages: list[Any] = pending.get()
            pending = None
            if not messages:
                if prefetched and refilled:  # only a receive made after the batch is final
                    continue
                break
            if context.get_remaining_time_in_millis() < reserve:  # prefetched, now too late
                _hand_back(config, url, messages, summary)
                summary.stopped = "time"
                break
            start = time.perf_counter()
            summary.batches += 1
            # Prefetch the next batch if time allows one after this (estimated as the longest).
            wait = receive_wait(
                context.get_remaining_time_in_millis() - longest, reserve, own.queue_wait_time
            )
            if wait is not None:
                pending, prefetched = _Background(_receive, url, own.batch_size, wait), True
            failed_before = summary.failed
            keep_going = _batch(
                config, url, messages, user_handler, routing_function, context, reserve, summary
            )
            refilled = feeds_itself or summary.failed > failed_before
            longest = max(longest, (time.perf_counter() - start) * 1000)
            if not keep_going:
                break
    except Exception as e:
        if resources.is_missing_queue(e):
            resources.forget_queue_url(queue_name)  # recreated queue: look it up again next time
        raise
    finally:
        try:
            if pending is not None:  # received ahead but not taken: visible again at once
                _hand_back(config, url, pending.get(), summary)
        finally:
            inflight.release(config.app, own.name, lease)
    log.emit("invocation", component=own.name, **summary.as_dict())
    return summary.as_dict()


def _hand_back(config: RuntimeConfig, url: str, messages: Sequence[Any], summary: Summary) -> None:
    if not messages:
        return
    summary.received += len(messages)
    summary.released += len(messages)
    _set_visibility(url, messages, None)
    for message in messages:
        log.outcome(config.component, None, message["MessageId"], "released", 0.0)


def _batch(
    config: RuntimeConfig,
    url: str,
    messages: Sequence[Any],
    user_handler: handling.UserHandler,
    routing_function: Any,
    context: Any,
    reserve: float,
    summary: Summary,
) -> bool:
    """One received batch; False when the loop must stop (time short, or deletes failing)."""
    summary.received += len(messages)
    results: dict[str, handling.Handled] = {}
    by_id = {m["MessageId"]: m for m in messages}
    untaken: list[Any] = []
    for i, message in enumerate(messages):
        if i > 0 and context.get_remaining_time_in_millis() < reserve:
            untaken = list(messages[i:])
            break
        results[message["MessageId"]] = handling.handle(
            config,
            user_handler,
            routing_function,
            message["MessageId"],
            partial(parse, message["Body"]),
            context,
        )
    summary.handled += sum(1 for h in results.values() if h.handler_called)

    outgoing = [
        o
        for h in results.values()
        if h.outcome in (handling.SUCCEEDED, handling.DIVERTED)
        for o in h.outgoing
    ]
    for key, reason in delivery.deliver(config, outgoing).items():
        results[key].outcome, results[key].reason = handling.FAILED, reason
    letters = [
        delivery.DeadLetter(k, by_id[k]["Body"], h.reason or "")
        for k, h in results.items()
        if h.outcome == handling.DEAD_LETTER
    ]
    for key, reason in delivery.dead_letter(config, letters).items():
        results[key].outcome, results[key].reason = handling.FAILED, reason

    done = [k for k, h in results.items() if h.outcome != handling.FAILED]
    undeleted = _delete(url, [by_id[k] for k in done])
    failed = [by_id[k] for k, h in results.items() if h.outcome == handling.FAILED]
    _set_visibility(url, failed, config.own.visibility_timeout)
    _set_visibility(url, untaken, None)

    for key, h in results.items():
        outcome = "dead_lettered" if h.outcome == handling.DEAD_LETTER else h.outcome
        if key in undeleted:
            outcome = "delete_failed"  # redelivered later: at-least-once, never lost
        log.outcome(
            config.component, h.trace_id, key, outcome, h.duration_ms, reason=h.reason, hops=h.hops
        )
        if h.outcome == handling.FAILED:
            summary.failed += 1
        elif h.outcome == handling.DEAD_LETTER:
            summary.dead_lettered += 1
        else:
            summary.succeeded += 1
    for message in untaken:
        log.outcome(config.component, None, message["MessageId"], "released", 0.0)
    summary.released += len(untaken)
    if untaken:
        summary.stopped = "time"
    if undeleted:
        summary.stopped = "delete_failed"
    return not untaken and not undeleted


def _delete(url: str, messages: Sequence[Any]) -> set[str]:
    """Delete done messages; returns the ids that could not be deleted."""
    if not messages:
        return set()
    entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
    ]
    try:
        response = resources.sqs().delete_message_batch(QueueUrl=url, Entries=entries)
    except Exception as e:
        log.emit("delete_failed", error=str(e), count=len(messages))
        return {m["MessageId"] for m in messages}
    return {messages[int(f["Id"])]["MessageId"] for f in response.get("Failed", [])}


def _set_visibility(url: str, messages: Sequence[Any], visibility_timeout: int | None) -> None:
    """Backoff for failed messages (visibility_timeout = the queue's), or hand back (None)."""
    if not messages:
        return
    entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = []
    for i, m in enumerate(messages):
        if visibility_timeout is None:
            seconds = 0
        else:
            count = int(m.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            seconds = retry_backoff_s(count, visibility_timeout)
        entries.append(
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
        )
    try:
        resources.sqs().change_message_visibility_batch(QueueUrl=url, Entries=entries)
    except Exception as e:
        # Harmless: the messages turn visible at the queue's visibility timeout instead.
        log.emit("visibility_change_failed", error=str(e), count=len(messages))
