"""One received batch of an `event_from_message` invocation, worked through message by message.

A message's fate depends on that message alone. Each handled message waits in `finished` until
it is settled (results routed, then deleted; dead-lettered; or given a retry backoff), in small
groups so the SQS calls stay batched. `settle` and `hand_back` can run from the watchdog thread
while the handler of the next message is still running (a lock keeps the two apart): when a
handler is about to outlive the invocation, what finished before it is settled and what has not
started is handed back at once, so a hang costs only the message that hangs.

Messages are taken fresh ones first (ApproximateReceiveCount 1), then by how often they were
received: a message that keeps failing or hanging comes back with a high count and is taken
after the others, so it cannot take them down with it. A message whose handler raised on its
last allowed receive is dead-lettered at once with the error as its reason, not left for SQS's
redrive (which keeps no reason).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from . import delivery, handling, log, resources
from .config import RuntimeConfig
from .envelope import parse

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
    )

DEFAULT_MAX_BACKOFF_S = 60
MAX_VISIBILITY_S = 43_200  # SQS's longest visibility timeout (12 hours)


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


def receive_count(message: Any) -> int:
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))


def handling_order(messages: Sequence[Any]) -> list[Any]:
    """Fresh messages first, the most often received last (stable within a count)."""
    return sorted(messages, key=receive_count)


def retry_backoff_s(count: int, visibility_timeout: int) -> int:
    """Visibility after a failure: 1, 2, 4, ... s, capped by the queue's own visibility timeout."""
    cap = visibility_timeout or DEFAULT_MAX_BACKOFF_S
    return int(min(2 ** max(count - 1, 0), cap))


def last_attempt_reason(
    handled: handling.Handled, count: int, max_receive_count: int
) -> str | None:
    """The dead-letter reason of a failed message on its last allowed receive, else None."""
    if handled.outcome != handling.FAILED or count < max_receive_count:
        return None
    return f"{handled.reason} (receive {count} of {max_receive_count})"


class Batch:
    def __init__(
        self, config: RuntimeConfig, url: str, messages: Sequence[Any], summary: Summary
    ) -> None:
        self.config = config
        self.url = url
        self.summary = summary
        self.untaken = handling_order(messages)
        self.finished: dict[str, tuple[Any, handling.Handled]] = {}
        self.first_finished_at: float | None = None
        self.handed_back = False  # the rest went back to the queue: take nothing more
        self.running: Any | None = None  # the message whose handler runs now
        self.delete_failed = False
        self._lock = threading.Lock()
        summary.received += len(messages)

    def take(self) -> Any | None:
        with self._lock:
            if self.handed_back or not self.untaken:
                return None
            self.running = self.untaken.pop(0)
            return self.running

    def has_untaken(self) -> bool:
        with self._lock:
            return bool(self.untaken) and not self.handed_back

    def handle(
        self,
        message: Any,
        user_handler: handling.UserHandler,
        routing_function: Any,
        context: Any,
    ) -> None:
        handled = handling.handle(
            self.config,
            user_handler,
            routing_function,
            message["MessageId"],
            partial(parse, message["Body"]),
            context,
        )
        reason = last_attempt_reason(
            handled, receive_count(message), self.config.own.max_receive_count
        )
        if reason is not None:
            handled.outcome, handled.reason = handling.DEAD_LETTER, reason
        with self._lock:
            self.finished[message["MessageId"]] = (message, handled)
            if self.first_finished_at is None:
                self.first_finished_at = time.monotonic()

    def waited_s(self) -> float:
        """How long the oldest finished message has waited for its settle."""
        with self._lock:
            first = self.first_finished_at
        return 0.0 if first is None else time.monotonic() - first

    def settle(self) -> None:
        """Route, dead-letter, delete and back off every finished message (batched calls)."""
        with self._lock:
            finished, self.finished, self.first_finished_at = self.finished, {}, None
            if finished:
                self._settle(finished)

    def hand_back(self) -> None:
        """Make every untaken message visible again at once; the batch takes nothing more."""
        with self._lock:
            untaken, self.untaken, self.handed_back = self.untaken, [], True
            if untaken:
                self.summary.released += len(untaken)
                set_visibility(self.url, untaken, None)
                for message in untaken:
                    log.outcome(self.config.component, None, message["MessageId"], "released", 0)

    def hold_back_running(self) -> None:
        """The running handler is about to outlive the invocation: keep its message out of
        sight for one more timeout, so the messages handed back with it are taken (by the next
        invocations) before it returns, not again in one batch with it."""
        with self._lock:
            message = self.running
        if message is None:
            return
        own = self.config.own
        seconds = min(MAX_VISIBILITY_S, own.visibility_timeout + own.timeout)
        try:
            resources.sqs().change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=seconds
            )
        except Exception as e:  # harmless: it returns at the queue's visibility timeout instead
            log.emit("visibility_change_failed", error=str(e), count=1)

    def _settle(self, finished: dict[str, tuple[Any, handling.Handled]]) -> None:
        config, summary = self.config, self.summary
        results = {key: handled for key, (_, handled) in finished.items()}
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
            delivery.DeadLetter(key, finished[key][0]["Body"], h.reason or "")
            for key, h in results.items()
            if h.outcome == handling.DEAD_LETTER
        ]
        for key, reason in delivery.dead_letter(config, letters).items():
            results[key].outcome, results[key].reason = handling.FAILED, reason

        done = [finished[k][0] for k, h in results.items() if h.outcome != handling.FAILED]
        undeleted = delete(self.url, done)
        failed = [finished[k][0] for k, h in results.items() if h.outcome == handling.FAILED]
        set_visibility(self.url, failed, config.own.visibility_timeout)
        for key, h in results.items():
            outcome = "dead_lettered" if h.outcome == handling.DEAD_LETTER else h.outcome
            if key in undeleted:
                outcome = "delete_failed"  # redelivered later: at-least-once, never lost
            log.outcome(
                config.component, h.trace_id, key, outcome, h.duration_ms, reason=h.reason,
                hops=h.hops, handler_called=h.handler_called, failed=h.failed_call,
            )
            if h.outcome == handling.FAILED:
                summary.failed += 1
            elif h.outcome == handling.DEAD_LETTER:
                summary.dead_lettered += 1
            else:
                summary.succeeded += 1
        if undeleted:
            self.delete_failed = True


def delete(url: str, messages: Sequence[Any]) -> set[str]:
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


def set_visibility(url: str, messages: Sequence[Any], visibility_timeout: int | None) -> None:
    """Backoff for failed messages (visibility_timeout = the queue's), or hand back (None)."""
    if not messages:
        return
    entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = []
    for i, m in enumerate(messages):
        seconds = 0 if visibility_timeout is None else retry_backoff_s(
            receive_count(m), visibility_timeout
        )
        entries.append(
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": seconds}
        )
    try:
        resources.sqs().change_message_visibility_batch(QueueUrl=url, Entries=entries)
    except Exception as e:
        # Harmless: the messages turn visible at the queue's visibility timeout instead.
        log.emit("visibility_change_failed", error=str(e), count=len(messages))
