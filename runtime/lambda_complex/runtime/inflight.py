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


def take(app: str, component: str, n: int, timeout_s: int) -> list[str]:
    """Leases (receipt handles) for n invocations about to start, adding tokens to the pool when
    it has too few visible. Fewer than n only if SQS fails (logged): accounting must never block
    work, the function's reserved concurrency is the hard limit."""
    visibility = timeout_s + LEASE_MARGIN_S
    taken: list[str] = []
    try:
        url = _url(app, component)
        taken = _receive(url, n, visibility, wait=0)
        missing = n - len(taken)
        # A short poll may miss visible tokens on real SQS: then the pool grows a little, which
        # is harmless (only invisible tokens are counted).
        for start in range(0, missing, SQS_BATCH):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": "lease"}
                for i in range(start, min(missing, start + SQS_BATCH))
            ]
            resources.sqs().send_message_batch(QueueUrl=url, Entries=entries)
        if missing:
            taken += _receive(url, missing, visibility, wait=1)
    except Exception as e:
        log.emit("lease_failed", component=component, error=str(e))
    return taken


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
