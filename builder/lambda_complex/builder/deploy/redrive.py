"""`lcbuild redrive COMPONENT`: put a component's dead letters back to work once their cause is
fixed.

A message component's dead-letter queue holds its input messages (moved there by SQS after
`max_receive_count` receives, or at once by the wrapper with the reason in `lc_reason`): they go
back into its input queue. Its invocations are nudges with no on-failure destination
(cfn/functions.py), so a Lambda on-failure record found there comes from an older deployment:
it is left where it is and counted (`skipped`), never sent into the input queue, where it would
only be dead-lettered again as malformed. An invocation component's dead-letter queue holds
Lambda's on-failure records (the event in `requestPayload`) and the wrapper's own dead letters
(the event itself): each event is invoked again, asynchronously. Either way a dead letter is
deleted only after it was sent or its invocation accepted (at-least-once), and one that fails
again comes back to the dead-letter queue with its new reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.errors import UserError
from lambda_complex.runtime import names


@dataclass(frozen=True)
class Redriven:
    component: str
    source: str  # the dead-letter queue
    target: str  # the input queue, or the function invoked
    moved: int
    left: int  # still in the dead-letter queue (beyond --limit, or whose resend failed)
    skipped: int = 0  # Lambda on-failure records in a message component's DLQ, left there

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lambda_record(body: str) -> dict[str, Any] | None:
    """The body as a Lambda on-failure record (`requestContext` + `requestPayload`), else None
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and "requestPayload" in data and "requestContext" in data:
        return data
    return None


def is_lambda_record(body: str) -> bool:
    return _lambda_record(body) is not None


def invocation_payload(body: str) -> bytes:
    """The event to invoke again: `requestPayload` of a Lambda on-failure record, else the dead
    letter itself (the wrapper dead-letters the event as it came)."""
    record = _lambda_record(body)
    if record is not None:
        return json.dumps(record["requestPayload"]).encode("utf-8")
    return body.encode("utf-8")


def redrive(app: App, aws: Aws, component: str, limit: int | None = None,
            queue: str | None = None) -> Redriven:
    """`queue`: take the dead letters from this queue of the application instead of the
    component's own dead-letter queue (e.g. what a forced removal left in a removed component's
    retained dead-letter queue)."""
    if component not in app.component_names:
        raise UserError(f"no component '{component}' in {app.name} "
                        f"(components: {', '.join(app.component_names)})")
    own = app.component(component)
    if queue is not None and not queue.startswith(f"{app.name}-"):
        raise UserError(f"--queue {queue}: not a queue of {app.name} (its queues are named "
                        f"'{app.name}-...')")
    source_name = queue or names.dead_letter_queue_name(app.name, component)
    source = aws.queue_url(source_name)
    if source is None:
        raise UserError(f"{source_name} does not exist: is {app.name} deployed?")
    if own.has_queue:
        target_name = names.queue_name(app.name, component)
        target = aws.queue_url(target_name)
        if target is None:
            raise UserError(f"{target_name} does not exist: is {app.name} deployed?")
        skipped: list[str] = []

        def skip(body: str) -> bool:
            if is_lambda_record(body):
                skipped.append(body)
                return True
            return False

        moved = _move(limit, lambda n: aws.move_batch(source, target, n, skip=skip),
                      lambda: len(skipped))
        return Redriven(component, source_name, target_name, moved, aws.counts(source).total,
                        skipped=len(skipped))
    target_name = names.function_name(app.name, component)
    moved = _move(limit, lambda n: _invoke_batch(aws, source, target_name, n), lambda: 0)
    return Redriven(component, source_name, target_name, moved, aws.counts(source).total)


def _move(limit: int | None, batch: Callable[[int], tuple[int, int]],
          skipped: Callable[[], int]) -> int:
    """Batches of up to 10 until the queue gives nothing, a batch neither moves nor skips
    anything (its sends failed), or the limit."""
    moved = 0
    while limit is None or moved < limit:
        before = skipped()
        received, done = batch(min(10, limit - moved) if limit is not None else 10)
        moved += done
        if not received or not (done or skipped() > before):
            break
    return moved


def _invoke_batch(aws: Aws, source: str, function_name: str, n: int) -> tuple[int, int]:
    messages = aws.receive(source, n)
    accepted = [m["ReceiptHandle"] for m in messages
                if aws.invoke_event(function_name, invocation_payload(m["Body"]))]
    aws.delete(source, accepted)
    return len(messages), len(accepted)
