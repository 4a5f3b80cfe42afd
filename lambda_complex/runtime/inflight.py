"""In-flight accounting for `event_from_message` components: a pool of lease tokens in an SQS queue.

An invocation takes a lease at start: it receives one token with VisibilityTimeout = function
timeout + margin (sending a fresh token first when none is visible). While it runs the token is
invisible, so `ApproximateNumberOfMessagesNotVisible` of the lease queue counts running invocations.
At the end the token is handed back (ChangeMessageVisibility 0) rather than deleted: the next start
receives it directly, so a lease costs two calls instead of four (receive-miss, send, receive,
delete), and the pool settles at the peak concurrency. A crashed invocation never hands its token
back; the token turns visible by itself once the timeout passes, which frees the slot, and a later
start reuses it. Only SQS is involved: no table, no counter to drift.
"""

from __future__ import annotations

from typing import NamedTuple

from . import log, names, resources

# Beyond the function timeout, so a lease never expires under a still-running invocation.
LEASE_MARGIN_S = 10
_ACQUIRE_ATTEMPTS = 3


class Lease(NamedTuple):
    queue_url: str
    receipt_handle: str


def _receive(url: str, visibility: int, wait: int) -> Lease | None:
    messages = (
        resources.sqs()
        .receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=visibility, WaitTimeSeconds=wait
        )
        .get("Messages", [])
    )
    return Lease(url, messages[0]["ReceiptHandle"]) if messages else None


def acquire(app: str, component: str, timeout_s: int) -> Lease | None:
    """Take a lease; None if the lease queue cannot be used (the work still runs: accounting must
    never block processing, the function's reserved concurrency is the hard limit)."""
    visibility = timeout_s + LEASE_MARGIN_S
    try:
        url = resources.queue_url(names.inflight_queue_name(app, component))
        lease = _receive(url, visibility, wait=0)
        for _ in range(_ACQUIRE_ATTEMPTS):
            if lease:
                return lease
            # A short poll may miss visible tokens on real SQS: then the pool grows by one
            # token, which is harmless (only invisible tokens are counted).
            resources.sqs().send_message(QueueUrl=url, MessageBody="lease")
            lease = _receive(url, visibility, wait=1)
        return lease
    except Exception as e:
        log.emit("lease_failed", component=component, error=str(e))
        return None


def release(lease: Lease | None) -> None:
    if lease is None:
        return
    try:
        resources.sqs().change_message_visibility(
            QueueUrl=lease.queue_url, ReceiptHandle=lease.receipt_handle, VisibilityTimeout=0
        )
    except Exception as e:
        # The token turns visible at its timeout anyway; the count is only high until then.
        log.emit("lease_release_failed", error=str(e))


def count(app: str, component: str) -> int:
    """Running invocations of a component (approximate, exact on moto)."""
    url = resources.queue_url(names.inflight_queue_name(app, component))
    attributes = resources.sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0))
