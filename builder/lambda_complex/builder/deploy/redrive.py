"""`lcbuild redrive COMPONENT`: put a component's dead letters back to work once their cause is
fixed.

A message component's dead-letter queue holds its input messages (moved there by SQS after
`max_receive_count` receives, or at once by the wrapper with the reason in `lc_reason`): they go
back into its input queue. An invocation component's holds Lambda's on-failure records (the event
in `requestPayload`) and the wrapper's own dead letters (the event itself): each event is invoked
again, asynchronously. Either way a dead letter is deleted only after it was sent or its
invocation accepted (at-least-once), and one that fails again comes back to the dead-letter
queue with its new reason.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def invocation_payload(body: str) -> bytes:
    """The event to invoke again: `requestPayload` of a Lambda on-failure record, else the dead
    letter itself (the wrapper dead-letters the event as it came)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.encode("utf-8")
    if isinstance(data, dict) and "requestPayload" in data and "requestContext" in data:
        return json.dumps(data["requestPayload"]).encode("utf-8")
    return body.encode("utf-8")


def redrive(app: App, aws: Aws, component: str, limit: int | None = None) -> Redriven:
    if component not in app.component_names:
        raise UserError(f"no component '{component}' in {app.name} "
                        f"(components: {', '.join(app.component_names)})")
    own = app.component(component)
    source_name = names.dead_letter_queue_name(app.name, component)
    source = aws.queue_url(source_name)
    if source is None:
        raise UserError(f"{source_name} does not exist: is {app.name} deployed?")
    if own.has_queue:
        target_name = names.queue_name(app.name, component)
        target = aws.queue_url(target_name)
        if target is None:
            raise UserError(f"{target_name} does not exist: is {app.name} deployed?")
        moved = _move(limit, lambda n: aws.move_batch(source, target, n))
    else:
        target_name = names.function_name(app.name, component)
        moved = _move(limit, lambda n: _invoke_batch(aws, source, target_name, n))
    return Redriven(component, source_name, target_name, moved, aws.counts(source).total)


def _move(limit: int | None, batch: Callable[[int], tuple[int, int]]) -> int:
    """Batches of up to 10 until the queue gives nothing, a batch moves nothing, or the limit."""
    moved = 0
    while limit is None or moved < limit:
        received, done = batch(min(10, limit - moved) if limit is not None else 10)
        moved += done
        if not received or not done:
            break
    return moved


def _invoke_batch(aws: Aws, source: str, function_name: str, n: int) -> tuple[int, int]:
    messages = aws.receive(source, n)
    accepted = [m["ReceiptHandle"] for m in messages
                if aws.invoke_event(function_name, invocation_payload(m["Body"]))]
    aws.delete(source, accepted)
    return len(messages), len(accepted)
