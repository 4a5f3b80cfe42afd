"""The Lambda handler of every component image (CMD `lambda_complex.runtime.wrapper.handler`).

Per container it loads the compiled config and imports the user's handler (and routing function)
once; nothing else survives between invocations. boto3 is imported on first use, not here:
this module must import in < 50 ms (cold start).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from . import config as config_mod
from . import consume, delivery, handling, log, push, records, resources, routing, settle
from .config import EVENT_FROM_MESSAGE, RuntimeConfig
from .protocol import (
    Envelope,
    Nudge,
    Outcome,
    envelope_from_event,
    is_sqs_event,
    local_invoke_body,
    parse_envelope,
)


class LambdaContext(Protocol):
    aws_request_id: str
    invoked_function_arn: str

    def get_remaining_time_in_millis(self) -> int: ...


class InvocationFailed(Exception):
    """Raised so Lambda's async retries and on-failure destination take the event."""


class _Loaded(NamedTuple):
    config: RuntimeConfig
    handler: handling.UserHandler
    routing_function: routing.RoutingFunction | None


_loaded: _Loaded | None = None


def import_callable(spec: str) -> handling.UserHandler:
    """`package.module.function` from the task root (LAMBDA_TASK_ROOT is on sys.path in Lambda;
    added here for local process mode)."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    if task_root and task_root not in sys.path:
        sys.path.insert(0, task_root)
    module_name, _, attr = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {spec!r} is not 'module.function'")
    fn: handling.UserHandler = getattr(importlib.import_module(module_name), attr)
    return fn


def load() -> _Loaded:
    global _loaded
    if _loaded is None:
        config = config_mod.load()
        handler_fn = import_callable(config.own.handler)
        spec = config.own.routing.function
        _loaded = _Loaded(config, handler_fn, routing.load_function(spec) if spec else None)
    return _loaded


def reset() -> None:
    """Forget the loaded config, handler and clients (tests; a container never needs this)."""
    global _loaded
    _loaded = None
    resources.reset()


def handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    loaded = load()
    push.new_invocation()
    # `lcbuild local invoke`'s direct input is handled right here instead of being taken from
    # the queue; honoured only with dry routing on, so a deployed function never treats an
    # outside payload as one.
    body = local_invoke_body(event) if delivery.dry_routing() else None
    if body is not None:
        return _local_invoke(loaded, body, context)
    if loaded.config.own.type == EVENT_FROM_MESSAGE:
        if is_sqs_event(event):
            # An event source mapping's batch (`dispatch: native`); taken whatever the
            # component's dispatch says, so a mapping still enabled during a switchover of
            # dispatch kinds loses nothing.
            return records.run(loaded.config, loaded.handler, loaded.routing_function,
                               context, event)
        # The event is only a nudge (with the invocation's lease, if one was taken): the work
        # is in the queue.
        lease = Nudge.from_event(event).lease
        return consume.run(loaded.config, loaded.handler, loaded.routing_function, context, lease)
    return _invocation(loaded, event, context)


def _local_invoke(loaded: _Loaded, body: str, context: LambdaContext) -> dict[str, Any]:
    """One input handled as its component handles it (a message body is parsed as a queue
    message's, any other input as an invocation payload); the answer adds the handler's result."""
    results: list[Any] = []

    def capture(data: Any, ctx: Any) -> Any:
        result = loaded.handler(data, ctx)
        results.append(result)
        return result

    def parse() -> Envelope:
        if loaded.config.own.type == EVENT_FROM_MESSAGE:
            return parse_envelope(body)
        return envelope_from_event(json.loads(body))

    answer = _invocation(loaded._replace(handler=capture), None, context, parse, lambda: body)
    # Whatever the handler returned, as JSON (Lambda's answer must be).
    result = json.loads(json.dumps(results[0], default=str)) if results else None
    return {**answer, "result": result}


def _invocation(
    loaded: _Loaded,
    event: Any,
    context: LambdaContext,
    parse: Callable[[], Envelope] | None = None,
    received: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """`event` is an invocation payload, unless `parse` reads the input (and `received` gives it
    back as received, for the dead-letter queue). The I/O edge of `settle` for one event."""
    config = loaded.config
    key = context.aws_request_id
    h = handling.handle(
        config, loaded.handler, loaded.routing_function, key,
        parse or (lambda: envelope_from_event(event)), context,
    )
    handled = {key: h}
    sent = delivery.send_settled(
        config, handled, lambda _: received() if received else json.dumps(event, default=str)
    )
    settled = settle.settle(config.component, handled, sent)
    (line,) = settled.lines
    log.message(line)
    if line.outcome == Outcome.FAILED:
        # The handler's own exception when it is why the input failed (nothing was routed):
        # Lambda then reports the user's error type; otherwise what went wrong after it.
        if h.error is not None and not h.routing_raised and not h.outgoing:
            raise h.error
        raise InvocationFailed(line.reason)
    return settled.counts.as_dict()


# The runtime interface client imports this module in Lambda's init phase: load the config and
# the user's handler there, so a handler module that does not import, or a handler function that
# does not exist, fails init (an init error on each new instance) as a plain handler would,
# instead of failing every invocation.
if os.environ.get("AWS_LAMBDA_RUNTIME_API"):
    load()
