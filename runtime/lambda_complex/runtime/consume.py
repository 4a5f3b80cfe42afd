"""The `event_from_message` loop: receive a batch, handle its messages one by one, settle them
(route the results, delete what is done) in small groups; repeat while the queue has messages
and time remains. What happens within one batch, and why one message cannot take the others
down with it, is `batch`'s.

Taking batch after batch (not one message per invocation) keeps a concurrency slot busy between
coordinator ticks; the next batch is received while the current one is handled, so SQS latency
overlaps work, but only when the time left allows finishing it too. The invocation's lease
(taken by whoever started it, see `inflight`) is handed back when it ends, whatever happened.

Time policy: before every receive and every handler call the remaining time must exceed a
reserve of max(20% of the timeout, 1 s, 1.5x the longest handler call so far), so what is in
hand can still be settled; the long poll is shortened to fit what is left. Finished messages are
settled once the batch is done, or sooner when the oldest has waited SETTLE_AFTER_S. A watchdog
fires when a handler call runs into the reserve: it settles what finished and hands back what has
not started (visibility 0), so if that handler never returns (it hangs past the timeout) only its
own message is lost for this receive. A failed message gets a short visibility backoff so its
retry is prompt; on its last allowed receive it is dead-lettered with its reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from . import handling, inflight, log, names, resources
from .batch import Batch, Summary, retry_backoff_s, set_visibility
from .config import RuntimeConfig

__all__ = ["Summary", "min_timeout_s", "receive_wait", "reserve_ms", "retry_backoff_s", "run"]

MIN_RESERVE_MS = 1000
# A finished message waits at most this long for its results to be routed (then its group is
# settled before the next handler call), so a slow batch still moves results on promptly.
SETTLE_AFTER_S = 2.0


def reserve_ms(timeout_s: int, longest_ms: float) -> float:
    return max(timeout_s * 1000 / 5, MIN_RESERVE_MS, 1.5 * longest_ms)


def receive_wait(remaining_ms: int, reserve: float, queue_wait_time: int) -> int | None:
    """Long-poll seconds for the next receive, or None: too little time left to take more."""
    spare = remaining_ms - reserve
    if spare <= 0:
        return None
    return int(min(queue_wait_time, spare // 1000))


# Time an invocation spends before its first receive (config, lease, queue URL lookup).
FIRST_RECEIVE_ALLOWANCE_MS = 250
MAX_TIMEOUT_S = 900  # Lambda's longest function timeout


def min_timeout_s(queue_wait_time: int) -> int:
    """The shortest function timeout (whole seconds) in which an invocation makes at least one
    receive and, if a message comes, calls the handler once, under the time policy above."""
    for timeout in range(1, MAX_TIMEOUT_S + 1):
        remaining = timeout * 1000 - FIRST_RECEIVE_ALLOWANCE_MS
        reserve = reserve_ms(timeout, 0)
        wait = receive_wait(remaining, reserve, queue_wait_time)
        if wait is not None and remaining - wait * 1000 >= reserve:
            return timeout
    return MAX_TIMEOUT_S



class _Prefetch:
    """One receive on its own thread, joined before the invocation ends (Lambda freezes a
    finished invocation's threads, so none may outlive it). `abandon` hands the messages back as
    soon as they arrive: used by the watchdog, which must not wait for a long poll."""

    def __init__(self, url: str, batch_size: int, wait: int) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._messages: list[Any] | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        self._thread = threading.Thread(
            target=self._run, args=(batch_size, wait), daemon=True
        )
        self._thread.start()

    def _run(self, batch_size: int, wait: int) -> None:
        try:
            messages = _receive(self.url, batch_size, wait)
        except BaseException as e:  # re-raised by get(), in the invocation's own thread
            self._error = e
            return
        with self._lock:
            if self._abandoned:
                set_visibility(self.url, messages, None)
                messages = []
            self._messages = messages

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            if self._messages:
                set_visibility(self.url, self._messages, None)
                self._messages = []

    def get(self) -> list[Any]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._messages or []


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


class _Clock:
    """The invocation's time, and the longest handler call so far (for the reserve)."""

    def __init__(self, context: Any, timeout_s: int) -> None:
        self.context = context
        self.timeout_s = timeout_s
        self.longest_ms = 0.0

    def remaining_ms(self) -> int:
        remaining: int = self.context.get_remaining_time_in_millis()
        return remaining

    def reserve(self) -> float:
        return reserve_ms(self.timeout_s, self.longest_ms)


def run(
    config: RuntimeConfig,
    user_handler: handling.UserHandler,
    routing_function: Any,
    context: Any,
    lease: str | None = None,
) -> dict[str, Any]:
    own = config.own
    summary = Summary()
    clock = _Clock(context, own.timeout)
    queue_name = names.queue_name(config.app, own.name)
    pending: _Prefetch | None = None
    # Whether `pending` was received while the previous batch was being handled, and whether that
    # batch may have put messages back in this queue after the receive was made (a result routed
    # to this very component, or a failed message's retry): then an empty answer is not final.
    prefetched = refilled = False
    feeds_itself = own.name in own.routing.possible_targets(config.components)
    url = ""
    try:
        url = resources.queue_url(queue_name)
        while True:
            reserve = clock.reserve()
            if pending is None:  # nothing prefetched: receive now, if time allows
                wait = receive_wait(clock.remaining_ms(), reserve, own.queue_wait_time)
                if wait is None:
                    summary.stopped = "time"
                    break
                pending, prefetched = _Prefetch(url, own.batch_size, wait), False
            messages = pending.get()
            pending = None
            if not messages:
                if prefetched and refilled:  # only a receive made after the batch is final
                    continue
                break
            batch = Batch(config, url, messages, summary)
            if clock.remaining_ms() < reserve:  # prefetched, now too late
                batch.hand_back()
                summary.stopped = "time"
                break
            summary.batches += 1
            # Prefetch only a batch this invocation can finish after this one (each estimated
            # at its size times the longest handler call so far).
            estimate = len(messages) * clock.longest_ms
            wait = receive_wait(
                int(clock.remaining_ms() - 2 * estimate), reserve, own.queue_wait_time
            )
            if wait is not None:
                pending, prefetched = _Prefetch(url, own.batch_size, wait), True
            failed_before = summary.failed
            keep_going = _work_through(batch, user_handler, routing_function, clock, pending)
            refilled = feeds_itself or summary.failed > failed_before
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


def _work_through(
    batch: Batch,
    user_handler: handling.UserHandler,
    routing_function: Any,
    clock: _Clock,
    pending: _Prefetch | None,
) -> bool:
    """Handle the batch's messages one by one; False when the loop must stop (time short, a
    handler ran into the reserve, or deletes failing)."""
    summary = batch.summary
    fired = threading.Event()

    def watchdog() -> None:
        # The invocation may be killed at any moment now (a starved CPU fires this late), so
        # the cheapest loss goes last: a message not handed back loses a receive (at
        # max_receive_count the queue dead-letters it unhandled), one not settled is only
        # handled twice.
        fired.set()
        if pending is not None:
            pending.abandon()
        batch.hand_back()
        batch.hold_back_running()
        batch.settle(urgent=True)  # no push from here: it must not wait for one
        log.emit("slow_handler", component=batch.config.component,
                 remaining_ms=clock.remaining_ms())

    first = True
    while batch.has_untaken():
        reserve = clock.reserve()
        if not first and clock.remaining_ms() < reserve:
            batch.hand_back()
            summary.stopped = "time"
            break
        if batch.waited_s() >= SETTLE_AFTER_S:
            batch.settle()
        message = batch.take()
        if message is None:
            break
        first = False
        timer = threading.Timer(max(0.0, (clock.remaining_ms() - reserve) / 1000), watchdog)
        timer.daemon = True
        timer.start()
        started = time.perf_counter()
        try:
            batch.handle(message, user_handler, routing_function, clock.context)
        finally:
            timer.cancel()
        clock.longest_ms = max(clock.longest_ms, (time.perf_counter() - started) * 1000)
        if fired.is_set():
            timer.join()  # its settle and hand-back are done before this thread goes on
            break
    batch.settle()
    if fired.is_set():
        summary.stopped = "time"  # a handler ran into the reserve
    if batch.delete_failed:
        summary.stopped = "delete_failed"
    return not (fired.is_set() or batch.handed_back or batch.delete_failed)


def _hand_back(config: RuntimeConfig, url: str, messages: Sequence[Any], summary: Summary) -> None:
    if messages:
        Batch(config, url, messages, summary).hand_back()
