"""One received batch of an `event_from_message` invocation, worked through message by message:
the I/O edge of `settle` for queue messages.

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
redrive (which keeps no reason). What becomes of each message is `settle`'s decision; here are the
calls that carry it out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from . import delivery, handling, inflight, log, resources, settle
from .config import RuntimeConfig

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        DeleteMessageBatchRequestEntryTypeDef,
    )

T = TypeVar("T")

DEFAULT_MAX_BACKOFF_S = 60
MAX_VISIBILITY_S = 43_200  # SQS's longest visibility timeout (12 hours)


def hold_back_s(config: RuntimeConfig) -> int:
    """How long a message whose handler outlived its invocation stays out of sight (see
    `Batch.hold_back_running`): a visibility timeout, plus until the slot of the killed
    invocation frees and the coordinator starts the next one, with the timeout once more for
    that invocation to take the handed-back messages."""
    own = config.own
    return (own.visibility_timeout + 2 * own.timeout + inflight.LEASE_MARGIN_S
            + config.coordinator.min_interval)


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

    def add(self, counts: settle.Counts) -> None:
        self.handled += counts.handled
        self.succeeded += counts.succeeded
        self.failed += counts.failed
        self.dead_lettered += counts.dead_lettered

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def receive_count(message: Any) -> int:
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))


def handling_order(messages: Sequence[T], count: Callable[[T], int] = receive_count) -> list[T]:
    """Fresh messages first, the most often received last (stable within a count). `count`:
    a message's receive count (queue messages by default; an event source mapping's records
    carry theirs elsewhere)."""
    return sorted(messages, key=count)


def retry_backoff_s(count: int, visibility_timeout: int) -> int:
    """Visibility after a failure: 1, 2, 4, ... s, capped by the queue's own visibility timeout."""
    cap = visibility_timeout or DEFAULT_MAX_BACKOFF_S
    return int(min(2 ** max(count - 1, 0), cap))


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
        self.given_up: str | None = None  # dead-lettered while its handler still ran
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
        handled = handling.handle_message(
            self.config, user_handler, routing_function, message["MessageId"], message["Body"],
            receive_count(message), context,
        )
        with self._lock:
            if message["MessageId"] == self.given_up:  # dead-lettered meanwhile: nothing to do
                return
            self.finished[message["MessageId"]] = (message, handled)
            if self.first_finished_at is None:
                self.first_finished_at = time.monotonic()

    def waited_s(self) -> float:
        """How long the oldest finished message has waited for its settle."""
        with self._lock:
            first = self.first_finished_at
        return 0.0 if first is None else time.monotonic() - first

    def settle(self, urgent: bool = False) -> None:
        """Route, dead-letter, delete and back off every finished message (batched calls)."""
        with self._lock:
            finished, self.finished, self.first_finished_at = self.finished, {}, None
            if finished:
                self._settle(finished, urgent)

    def hand_back(self) -> None:
        """Make every untaken message visible again at once; the batch takes nothing more. One
        on its last allowed receive is sent again as a new message instead, then deleted
        (`settle.to_send_again`); if the send or the delete fails it is handed back too."""
        with self._lock:
            untaken, self.untaken, self.handed_back = self.untaken, [], True
            if not untaken:
                return
            self.summary.released += len(untaken)
            by_key = {message["MessageId"]: message for message in untaken}
            spent = settle.to_send_again({k: receive_count(m) for k, m in by_key.items()},
                                         self.config.own.max_receive_count)
            later = [by_key[k] for k in by_key if k not in spent]
            set_visibility(self.url, later, None)  # first: the cheap call for the most
            sent = delivery.send_again(self.config, {k: by_key[k]["Body"] for k in spent})
            undeleted = delete(self.url, [by_key[k] for k in spent if k in sent])
            set_visibility(self.url, [by_key[k] for k in spent
                                      if k not in sent or k in undeleted], None)
            gone = sent - undeleted
            for line in settle.released(self.config.component, list(by_key), gone):
                log.message(line)

    def hold_back_running(self) -> None:
        """The running handler is about to outlive the invocation: keep its message out of
        sight until the messages handed back with it have surely been taken by the next
        invocations, so it does not come back in one batch with them again (each such round
        costs them a receive, and at max_receive_count the queue dead-letters them).

        The next invocation may start late: this one is killed at its timeout and its slot stays
        taken until its lease expires (timeout + LEASE_MARGIN_S, as nothing hands it back), then
        the coordinator's next generation starts one (min_interval). On the message's last
        allowed receive it is dead-lettered now instead, with a reason (`settle.outlived`)."""
        with self._lock:
            message = self.running
            own = self.config.own
            verdict = None if message is None else settle.outlived(
                self.config.component, message["MessageId"], receive_count(message),
                own.max_receive_count)
            if verdict is not None and message is not None:
                self.given_up = message["MessageId"]
        if message is None:
            return
        if verdict is not None:
            reason, line = verdict
            letter = delivery.DeadLetter(message["MessageId"], message["Body"], reason)
            if not delivery.dead_letter(self.config, [letter]) and not delete(self.url, [message]):
                self.summary.dead_lettered += 1
                log.message(line)
                return
            # Not dead-lettered or not deleted: held back as on an earlier receive; SQS's
            # redrive moves it later (at worst a duplicate dead letter, never a loss).
        change_visibility(self.url, [(message["ReceiptHandle"], hold_back_s(self.config))])

    def _settle(self, finished: dict[str, tuple[Any, handling.Handled]], urgent: bool) -> None:
        handled = {key: h for key, (_, h) in finished.items()}
        sent = delivery.send_settled(self.config, handled, lambda key: finished[key][0]["Body"],
                                     push_targets=not urgent)
        retained = settle.retained(handled, sent)
        undeleted = delete(self.url, [m for key, (m, _) in finished.items() if key not in retained])
        retry = [finished[key][0] for key in retained]
        set_visibility(self.url, retry, self.config.own.visibility_timeout)
        settled = settle.settle(self.config.component, handled, sent, undeleted)
        for line in settled.lines:
            log.message(line)
        self.summary.add(settled.counts)
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
    change_visibility(url, [
        (m["ReceiptHandle"],
         0 if visibility_timeout is None else retry_backoff_s(receive_count(m), visibility_timeout))
        for m in messages])


def change_visibility(url: str, changes: Sequence[tuple[str, int]]) -> None:
    """ChangeMessageVisibility for (receipt handle, seconds) pairs, 10 per call, each at most
    SQS's longest visibility. A failure is harmless: the messages turn visible at the queue's
    visibility timeout instead."""
    entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
        {"Id": str(i), "ReceiptHandle": receipt,
         "VisibilityTimeout": min(MAX_VISIBILITY_S, seconds)}
        for i, (receipt, seconds) in enumerate(changes)]
    try:
        for start in range(0, len(entries), inflight.SQS_BATCH):
            resources.sqs().change_message_visibility_batch(
                QueueUrl=url, Entries=entries[start:start + inflight.SQS_BATCH])
    except Exception as e:
        log.emit("visibility_change_failed", error=str(e), count=len(entries))
