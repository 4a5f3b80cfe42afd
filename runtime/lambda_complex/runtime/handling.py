"""Handling one input, the same for queue messages and invocation events: parse the envelope, call
the user's handler, decide and prepare its routing. No I/O: what becomes of the input then is
`settle`'s decision, carried out by the caller (deliver, dead-letter, delete, log).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from . import delivery, routing, settle
from .config import RuntimeConfig
from .protocol import Envelope, EnvelopeError, Outcome, PermanentError, parse_envelope

UserHandler = Callable[[Any, Any], Any]

# AWS refusals a retry cannot turn into a grant (the code differs by protocol: S3 and SQS say
# AccessDenied, JSON services AccessDeniedException).
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})


class Handled:
    """What the handler (and routing) made of one input, before it is settled. `outcome` is one
    of SUCCEEDED (results ready to deliver), DIVERTED (the handler raised, the routing function
    sent the failure on), FAILED (leave the input for redelivery) and DEAD_LETTERED (retrying
    cannot help: the dead-letter queue at once)."""

    __slots__ = (
        "duration_ms",
        "error",
        "handler_called",
        "hops",
        "outcome",
        "outgoing",
        "reason",
        "routing_raised",
        "trace_id",
    )

    def __init__(
        self,
        outcome: Outcome,
        outgoing: list[delivery.Outgoing] | None = None,
        reason: str | None = None,
        error: Exception | None = None,
        handler_called: bool = False,
        routing_raised: bool = False,
    ) -> None:
        self.outcome = outcome
        self.outgoing = outgoing or []
        self.reason = reason
        self.error = error  # the handler's exception, if it raised
        self.handler_called = handler_called
        self.routing_raised = routing_raised  # the routing function raised
        # Of the input's envelope, when it was one (set by `handle`).
        self.trace_id: str | None = None
        self.hops: int | None = None
        self.duration_ms = 0.0

    @property
    def failed_call(self) -> bool:
        """The handler raised (and no routing function diverted the failure), or the routing
        function raised: what the report counts as a failed call."""
        return self.routing_raised or (self.error is not None and self.outcome != Outcome.DIVERTED)


def handle(
    config: RuntimeConfig,
    user_handler: UserHandler,
    routing_function: routing.RoutingFunction | None,
    key: str,
    parse: Callable[[], Envelope],
    context: Any,
) -> Handled:
    start = time.perf_counter()
    try:
        current = parse()
    except EnvelopeError as e:
        handled = Handled(Outcome.DEAD_LETTERED, reason=e.reason)
    else:
        handled = _handle(config, user_handler, routing_function, key, current, context)
        handled.trace_id, handled.hops = current.trace_id, current.hops
    handled.duration_ms = (time.perf_counter() - start) * 1000
    return handled


def handle_message(
    config: RuntimeConfig,
    user_handler: UserHandler,
    routing_function: routing.RoutingFunction | None,
    key: str,
    body: str,
    receive_count: int,
    context: Any,
) -> Handled:
    """One queue message on its `receive_count`-th receive (taken by the queue loop or given by
    an event source mapping): as `handle`, and a failure on the last allowed receive is due for
    the dead-letter queue at once, with its reason (`settle.last_attempt_reason`)."""
    handled = handle(config, user_handler, routing_function, key, partial(parse_envelope, body),
                     context)
    reason = settle.last_attempt_reason(handled, receive_count, config.own.max_receive_count)
    if reason is not None:
        handled.outcome, handled.reason = Outcome.DEAD_LETTERED, reason
    return handled


def _access_denied(error: Exception) -> bool:
    """A botocore ClientError refused by IAM, read without importing botocore."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ACCESS_DENIED


def _handle(
    config: RuntimeConfig,
    user_handler: UserHandler,
    routing_function: routing.RoutingFunction | None,
    key: str,
    current: Envelope,
    context: Any,
) -> Handled:
    error: Exception | None = None
    result: Any = None
    try:
        result = user_handler(current.data, context)
    except Exception as e:  # BaseException (SystemExit, timeouts) still ends the invocation
        error = e
    try:
        targets = routing.decide(config.own, config.components, error, result, routing_function)
        outgoing = delivery.prepare(key, current, targets, config)
    except PermanentError as e:
        return Handled(Outcome.DEAD_LETTERED, reason=e.reason, error=error, handler_called=True)
    except Exception as e:
        reason = f"routing function raised {type(e).__name__}: {e}"
        return Handled(Outcome.FAILED, reason=reason, error=error, handler_called=True,
                       routing_raised=True)
    if error is not None:
        if not targets:
            reason = f"handler raised {type(error).__name__}: {error}"
            outcome = Outcome.DEAD_LETTERED if _access_denied(error) else Outcome.FAILED
            return Handled(outcome, reason=reason, error=error, handler_called=True)
        return Handled(Outcome.DIVERTED, outgoing=outgoing, error=error, handler_called=True)
    return Handled(Outcome.SUCCEEDED, outgoing=outgoing, handler_called=True)
