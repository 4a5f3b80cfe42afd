"""The wrapper for `event_from_invocation` components: payload in, results routed, failures raised
so Lambda's async retries and on-failure destination take them."""

from __future__ import annotations

import pytest
from rt_support import APP, FakeContext, LambdaStub, Runtime, config, invocation_component
from rt_support import message_component as mc

from lambda_complex.runtime import names, protocol, wrapper
from lambda_complex.runtime.config import Routing

CODE = """
def handler(event, context):
    if event.get("fail"):
        raise KeyError("asked to fail")
    return {"doubled": event["n"] * 2}
"""


def setup(rt: Runtime, targets: tuple[str, ...] = ("b",)) -> None:
    module = rt.handler_module(CODE)
    p = invocation_component("p", Routing(components=targets), handler=f"{module}.handler")
    b = mc("b", handler=f"{module}.handler")
    q = invocation_component("q", handler=f"{module}.handler")
    rt.use_config(config("p", p, b, q))
    rt.create_queues(p)
    rt.create_queues(b)


def test_raw_payload_is_wrapped_handled_and_routed(rt: Runtime) -> None:
    setup(rt)
    assert wrapper.handler({"n": 4}, FakeContext())["succeeded"] == 1
    [message] = rt.drain(names.queue_name(APP, "b"))
    routed = protocol.parse_envelope(message["Body"])
    assert (routed.data, routed.hops, routed.source) == ({"doubled": 8}, 1, "p")


def test_envelope_payload_keeps_its_trace(rt: Runtime) -> None:
    setup(rt)
    incoming = protocol.Envelope("trace-1", 3, "x", {"n": 1})
    wrapper.handler(incoming.to_dict(), FakeContext())
    [message] = rt.drain(names.queue_name(APP, "b"))
    assert protocol.parse_envelope(message["Body"]).trace_id == "trace-1"
    assert protocol.parse_envelope(message["Body"]).hops == 4


def test_handler_error_is_raised_for_lambda_retries(rt: Runtime) -> None:
    setup(rt)
    with pytest.raises(KeyError, match="asked to fail"):
        wrapper.handler({"n": 1, "fail": True}, FakeContext())
    assert rt.total(names.queue_name(APP, "b")) == 0


def test_malformed_envelope_goes_to_the_dlq_not_retried(rt: Runtime) -> None:
    setup(rt)
    summary = wrapper.handler({"lc": 1, "data": 2}, FakeContext())
    assert summary["dead_lettered"] == 1
    [dead] = rt.drain(names.dead_letter_queue_name(APP, "p"))
    assert "missing" in dead["MessageAttributes"]["lc_reason"]["StringValue"]


def test_throttled_invoke_raises(rt: Runtime, lambda_stub: LambdaStub) -> None:
    setup(rt, targets=("q",))
    lambda_stub.throttled.add("t-q")
    with pytest.raises(wrapper.InvocationFailed, match="TooManyRequests"):
        wrapper.handler({"n": 1}, FakeContext())
    lambda_stub.throttled.clear()
    wrapper.handler({"n": 1}, FakeContext())
    assert [c.function for c in lambda_stub.calls] == ["t-q"]
