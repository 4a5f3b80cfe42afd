"""In-flight accounting for `event_from_message` components: a pool of lease tokens in an SQS queue.

Whoever starts an invocation (the coordinator, or an invoker it fans out to) takes its lease
first: it receives a token with VisibilityTimeout = function timeout + margin and passes the
receipt handle in the invocation's payload. While the invocation is queued or running the token
is invisible, so `ApproximateNumberOfMessagesNotVisible` of the lease queue counts invocations
started and not yet finished. Taking the lease before the Invoke (not inside the invocation)
means the next coordinator generation already counts an invocation that has not started yet (a
cold start can take seconds), and leases for many invocations come in one ReceiveMessage of up
to 10 tokens. The invocation hands its token back when it ends (ChangeMessageVisibility 0): one
call per invocation, and the next start reuses the token, so the pool settles at the peak
concurrency. A crashed invocation never hands it back; the token turns visible by itself once
the timeout passes, which frees the slot. Only SQS is involved: no table, no counter to drift.

The pool holds exactly `max_concurrency` tokens, so that a token received is a free slot: push
dispatch (`push`) takes one with `take_free` and never adds any. Whoever starts invocations for
the coordinator (`take`) tops the pool up to the limit when it finds too few tokens visible and
too few in all (a fresh pool, or tokens past the queue's retention period), and the coordinator
seeds the pools of pushed components once per container (`seed`); SQS's counts are
approximate, so a pool may briefly hold one too many: the function's reserved concurrency stays
the hard limit. Lowering the limit leaves surplus tokens until the pool's queue is recreated;
reserved concurrency holds the new limit meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import log, names, resources

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import (
        ChangeMessageVisibilityBatchRequestEntryTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

# Beyond the function timeout: covers the usual time from the Invoke to the start (async
# queueing, cold start). An invocation that starts later still, and runs to its timeout, is
# uncounted for its last seconds: the coordinator may then start one too many, which the
# function's reserved concurrency holds back. Kept short so a crashed invocation's slot frees
# soon after its timeout.
LEASE_MARGIN_S = 10
SQS_BATCH = 10  # entries per ReceiveMessage / SendMessageBatch / ChangeMessageVisibilityBatch


def _url(app: str, component: str) -> str:
    return resources.queue_url(names.inflight_queue_name(app, component))


def _receive(url: str, n: int, visibility: int, wait: int) -> list[str]:
    """Up to n tokens; stops at the first short answer (the pool has no more visible)."""
    taken: list[str] = []
    while len(taken) < n:
        asked = min(SQS_BATCH, n - len(taken))
        messages = (
            resources.sqs()
            .receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=asked,
                VisibilityTimeout=visibility,
                WaitTimeSeconds=wait,
            )
            .get("Messages", [])
        )
        taken += [m["ReceiptHandle"] for m in messages]
        if len(messages) < asked:
            break
    return taken


def take(app: str, component: str, n: int, timeout_s: int, limit: int) -> list[str | None]:
    """Leases for up to n invocations about to start: as many as there are free slots (tokens
    visible), topping the pool up to `limit` tokens when it holds fewer. When SQS fails, n
    unaccounted starts (None each, logged): accounting must never block work, the function's
    reserved concurrency is the hard limit."""
    visibility = timeout_s + LEASE_MARGIN_S
    try:
        url = _url(app, component)
        taken: list[str | None] = list(_receive(url, n, visibility, wait=0))
        if len(taken) < n:
            visible, short = _top_up(url, limit)
            if short > 0 or visible > 0:  # a short poll may miss visible tokens: look again
                taken += _receive(url, n - len(taken), visibility, wait=1)
        return taken
    except Exception as e:
        log.emit("lease_failed", component=component, error=str(e))
        return [None] * n


def _top_up(url: str, limit: int) -> tuple[int, int]:
    """Add the tokens a pool lacks to hold `limit` in all: (tokens visible before, added)."""
    visible, invisible = _sizes(url)
    short = limit - visible - invisible
    for start in range(0, short, SQS_BATCH):
        entries: list[SendMessageBatchRequestEntryTypeDef] = [
            {"Id": str(i), "MessageBody": "lease"}
            for i in range(start, min(short, start + SQS_BATCH))
        ]
        resources.sqs().send_message_batch(QueueUrl=url, Entries=entries)
    return visible, max(0, short)


def seed(app: str, component: str, limit: int) -> int:
    """Fill a pool up to `limit` tokens before anyone takes from it, so that the first pushes to
    a component find its free slots (`take_free` never adds tokens). Returns the tokens added."""
    return _top_up(_url(app, component), limit)[1]


def take_free(app: str, component: str, timeout_s: int) -> str | None:
    """One lease if a slot is free now (a token visible), else None. Never adds a token and
    never waits: a push that finds no slot leaves the message to the running invocations and
    the coordinator."""
    try:
        messages = resources.sqs().receive_message(
            QueueUrl=_url(app, component),
            MaxNumberOfMessages=1,
            VisibilityTimeout=timeout_s + LEASE_MARGIN_S,
            WaitTimeSeconds=0,
        ).get("Messages", [])
    except Exception as e:
        log.emit("lease_failed", component=component, error=str(e))
        return None
    return str(messages[0]["ReceiptHandle"]) if messages else None


def _sizes(url: str) -> tuple[int, int]:
    """(tokens visible, tokens taken) of a pool."""
    attributes = resources.sqs().get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)))


def hand_back(app: str, component: str, receipts: Sequence[str]) -> None:
    """Return leases whose invocation was never started (the Invoke failed)."""
    try:
        url = _url(app, component)
        for start in range(0, len(receipts), SQS_BATCH):
            entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
                {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0}
                for i, r in enumerate(receipts[start : start + SQS_BATCH])
            ]
            resources.sqs().change_message_visibility_batch(QueueUrl=url, Entries=entries)
    except Exception as e:
        # The tokens turn visible at their timeout anyway; the count is only high until then.
        log.emit("lease_release_failed", component=component, error=str(e))


def release(app: str, component: str, receipt: str | None) -> None:
    """Hand back the lease of the invocation that is ending (None: it was started without one)."""
    if not receipt:
        return
    try:
        resources.sqs().change_message_visibility(
            QueueUrl=_url(app, component), ReceiptHandle=receipt, VisibilityTimeout=0
        )
    except Exception as e:
        log.emit("lease_release_failed", component=component, error=str(e))


def count(app: str, component: str) -> int:
    """Invocations started and not finished (approximate, exact on moto)."""
    attributes = resources.sqs().get_queue_attributes(
        QueueUrl=_url(app, component), AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
