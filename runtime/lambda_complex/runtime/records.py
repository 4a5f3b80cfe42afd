"""An event source mapping's batch (`dispatch: native`): Lambda has received the messages itself
and invokes the function with them as an SQS event (`protocol.is_sqs_event`); the wrapper handles
them as the queue loop handles a batch and answers which of them must come back.

The same steps as `batch`: each record handled by `handling.handle_message` (fresh ones first, a
failure on its last allowed receive due for the dead-letter queue with its reason), settled by
`settle` in small groups, results sent (and queue targets with a free slot pushed) by `delivery`.
One thing differs: Lambda owns the messages. Nothing here deletes a message. The answer
(`protocol.batch_response`) names every record that must come back: its handler failed before its
last allowed receive, a send for it failed, it was not started because time ran short, or its
handler was still running. Lambda deletes the others when the invocation returns (the mapping has
`FunctionResponseTypes: [ReportBatchItemFailures]`); the named ones turn visible again after the
queue's visibility timeout, and the queue's redrive moves one received `maxReceiveCount` times. So
that the redrive never moves a message without a reason, a record on its last allowed receive that
failed or is still running is dead-lettered here with its reason and reported done. Visibility is
changed in two cases only: records not started are made visible at once, and a record whose
handler is still running is held out of sight (`batch.hold_back_s`) so that its batch-mates come
back without it.
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting

Time: the reserve of the queue loop (`consume.reserve_ms`). An invocation that times out fails
its whole batch (every message returns after the visibility timeout, those already settled
included: their results would be sent twice), so it must answer in time whatever a handler does.
Each handler call runs on a thread of its own and is waited for until the remaining time reaches
the reserve; a handler still running then is left to run, and the invocation answers at once
with that record and every record not yet started, after sending the results of those that
finished. No lease: the mapping's `ScalingConfig.MaximumConcurrency` limits the invocations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from . import delivery, handling, log, names, protocol, resources, settle
from .batch import Summary, change_visibility, handling_order, hold_back_s
from .config import RuntimeConfig
from .consume import SETTLE_AFTER_S, reserve_ms
from .protocol import SqsRecord


class _Call:
    """One handler call on a thread of its own. When the invocation answers before the call
    returns, Lambda freezes the thread with the execution environment; thawed by a later
    invocation of the same environment, it finishes into this object, which nobody reads any
    more (the record was reported for redelivery, or dead-lettered)."""

    def __init__(self, call: Callable[[], handling.Handled]) -> None:
        self._call = call
        self._done = threading.Event()
        self._handled: handling.Handled | None = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, daemon=True, name="lc-handler").start()

    def _run(self) -> None:
        try:
            self._handled = self._call()
        except BaseException as e:  # re-raised by `result`, in the invocation's own thread
            self._error = e
        finally:
            self._done.set()

    def wait(self, timeout_s: float) -> bool:
        return self._done.wait(timeout_s)

    def result(self) -> handling.Handled:
        if self._error is not None:
            raise self._error  # SystemExit and the like end the invocation, as in the queue loop
        assert self._handled is not None
        return self._handled


class RecordBatch:
    """One SQS event's records, worked through one by one; `come_back`: the ids to report."""

    def __init__(self, config: RuntimeConfig, records: list[SqsRecord]) -> None:
        self.config = config
        self.records = records
        self.bodies = {r.message_id: r.body for r in records}
        self.summary = Summary()
        self.summary.received, self.summary.batches = len(records), 1
        self.come_back: set[str] = set()
        self.finished: dict[str, handling.Handled] = {}
        self.first_finished_at: float | None = None

    def finish(self, key: str, handled: handling.Handled) -> None:
        self.finished[key] = handled
        if self.first_finished_at is None:
            self.first_finished_at = time.monotonic()

    def settle_due(self) -> bool:
        first = self.first_finished_at
        return first is not None and time.monotonic() - first >= SETTLE_AFTER_S

    def settle(self) -> None:
        """Send the results of the finished records and dead-letter those due; what `settle`
        retains comes back."""
        finished, self.finished, self.first_finished_at = self.finished, {}, None
        if not finished:
            return
        sent = delivery.send_settled(self.config, finished, self.bodies.__getitem__)
        self.come_back.update(settle.retained(finished, sent))
        settled = settle.settle(self.config.component, finished, sent)
        for line in settled.lines:
            log.message(line)
        self.summary.add(settled.counts)

    def release(self, records: list[SqsRecord]) -> None:
        """Records not started: they come back unhandled, visible again at once (the mapping's
        next poll takes them) rather than after the queue's visibility timeout. One on its last
        allowed receive is sent to the queue again as a new message and reported done, so
        Lambda deletes the one received (`settle.to_send_again`)."""
        if not records:
            return
        self.summary.released += len(records)
        self.summary.stopped = "time"
        spent = settle.to_send_again({r.message_id: r.receive_count for r in records},
                                     self.config.own.max_receive_count)
        sent = delivery.send_again(self.config, {k: self.bodies[k] for k in spent})
        back = [r for r in records if r.message_id not in sent]
        self.come_back.update(r.message_id for r in back)
        for line in settle.released(self.config.component, [r.message_id for r in records],
                                    sent):
            log.message(line)
        self.set_visibility(back, 0)

    def set_visibility(self, records: list[SqsRecord], seconds: int) -> None:
        """Change the visibility of records Lambda received: the receipt handles in the event
        are the messages' current ones, and Lambda does not touch the visibility of the records
        the answer names."""
        changes = [(r.receipt_handle, seconds) for r in records if r.receipt_handle]
        if changes:
            url = resources.queue_url(names.queue_name(self.config.app, self.config.own.name))
            change_visibility(url, changes)

    def outlived(self, record: SqsRecord) -> None:
        """A handler still running as the time runs out: on the record's last allowed receive
        it is dead-lettered with the reason (`settle.outlived`), else it comes back."""
        own = self.config.own
        key = record.message_id
        self.summary.handled += 1
        self.summary.stopped = "time"
        verdict = settle.outlived(self.config.component, key, record.receive_count,
                                  own.max_receive_count)
        if verdict is not None:
            reason, line = verdict
            letter = delivery.DeadLetter(key, record.body, reason)
            if not delivery.dead_letter(self.config, [letter]):
                self.summary.dead_lettered += 1
                log.message(line)
                return
        # Comes back, held out of sight until its batch-mates (released visible at once) have
        # been taken without it: else they come back in one batch with it again, each round
        # costing them a receive, until the queue's redrive moves them. If the dead-letter send
        # failed, the redrive moves it later.
        self.come_back.add(key)
        self.set_visibility([record], hold_back_s(self.config))
        self.summary.failed += 1
        log.message(settle.still_running(self.config.component, key, record.receive_count,
                                         own.max_receive_count))

    def response(self) -> dict[str, Any]:
        """The answer, in the event's order of the records."""
        return protocol.batch_response(
            r.message_id for r in self.records if r.message_id in self.come_back)


def _unique(records: list[SqsRecord]) -> list[SqsRecord]:
    """One record per message id (an id names the message in the answer, so a message delivered
    twice in one batch is handled once)."""
    seen: dict[str, SqsRecord] = {}
    for r in records:
        seen.setdefault(r.message_id, r)
    return list(seen.values())


def run(
    config: RuntimeConfig,
    user_handler: handling.UserHandler,
    routing_function: Any,
    context: Any,
    event: Mapping[str, Any],
) -> dict[str, Any]:
    """Handle an SQS event's records; the batch response naming those that must come back."""
    own = config.own
    batch = RecordBatch(config, _unique(protocol.sqs_records(event)))
    order = handling_order(batch.records, lambda r: r.receive_count)
    longest_ms = 0.0
    for i, record in enumerate(order):
        if batch.settle_due():
            batch.settle()
        reserve = reserve_ms(own.timeout, longest_ms)
        remaining: int = context.get_remaining_time_in_millis()
        if i and remaining < reserve:
            batch.release(order[i:])
            break
        call = _Call(partial(handling.handle_message, config, user_handler, routing_function,
                             record.message_id, record.body, record.receive_count, context))
        started = time.perf_counter()
        if not call.wait(max(0.0, (remaining - reserve) / 1000)):
            batch.settle()  # the results of the records that finished go first
            batch.outlived(record)
            batch.release(order[i + 1:])
            log.emit("slow_handler", component=config.component,
                     remaining_ms=context.get_remaining_time_in_millis())
            break
        longest_ms = max(longest_ms, (time.perf_counter() - started) * 1000)
        batch.finish(record.message_id, call.result())
    batch.settle()
    log.emit("invocation", component=own.name, **batch.summary.as_dict())
    return batch.response()
