"""Routing decisions and message preparation, pure."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rt_support import config, invocation_component, message_component

from lambda_complex.runtime import delivery, protocol, routing
from lambda_complex.runtime.config import Routing
from lambda_complex.runtime.routing import RoutingError, Target

A = message_component("a", Routing(components=("b", "p")))
B = message_component("b")
P = invocation_component("p")
KNOWN = {c.name: c for c in (A, B, P)}


def test_fixed_routing_sends_result_to_every_target() -> None:
    assert routing.decide(A, KNOWN, None, {"x": 1}) == [
        Target("b", {"x": 1}),
        Target("p", {"x": 1}),
    ]


def test_fixed_routing_sends_nothing_on_error_or_none() -> None:
    assert routing.decide(A, KNOWN, ValueError("x"), None) == []
    assert routing.decide(A, KNOWN, None, None) == []
    assert routing.decide(B, KNOWN, None, {"x": 1}) == []  # no targets: end of the chain


def test_routing_function_gets_error_and_result() -> None:
    own = message_component("a", Routing(function="m:f"))
    seen: list[tuple[Any, Any]] = []

    def fn(error: BaseException | None, result: Any) -> list[dict[str, Any]]:
        seen.append((error, result))
        return [{"name": "b", "data": result}] if error is None else [{"name": "p", "data": "e"}]

    assert routing.decide(own, KNOWN, None, 5, fn) == [Target("b", 5)]
    error = ValueError("boom")
    assert routing.decide(own, KNOWN, error, None, fn) == [Target("p", "e")]
    assert seen == [(None, 5), (error, None)]


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ([{"name": "nope", "data": 1}], "not a component"),
        ([{"name": "coordinator", "data": 1}], "not a component"),
        ([{"name": 3, "data": 1}], "must be a string"),
        ({"name": "b", "data": 1}, "must return a list"),
        ([{"name": "b"}], "is not {'name'"),
        ([{"name": "b", "data": 1, "x": 2}], "unknown keys"),
    ],
)
def test_routing_function_output_is_validated(output: Any, message: str) -> None:
    with pytest.raises(RoutingError) as raised:
        routing.validate(output, KNOWN)
    assert message in raised.value.reason


def test_none_from_routing_function_means_no_targets() -> None:
    assert routing.validate(None, KNOWN) == []


def test_load_function_rejects_bad_spec() -> None:
    with pytest.raises(RoutingError):
        routing.load_function("no_colon")


def test_prepare_builds_next_hop_envelopes_with_kinds() -> None:
    cfg = config("a", A, B, P)
    current = protocol.new_envelope({"n": 1})
    out = delivery.prepare("m1", current, [Target("b", 1), Target("p", 2)], cfg)
    assert [(o.target, o.kind, o.source_key) for o in out] == [
        ("b", protocol.RouteKind.QUEUE, "m1"),
        ("p", protocol.RouteKind.INVOCATION, "m1"),
    ]
    routed = protocol.parse_envelope(out[0].body)
    assert (routed.trace_id, routed.hops, routed.source) == (current.trace_id, 1, "a")


def test_prepare_rejects_oversized_and_unserializable_results() -> None:
    cfg = config("a", A, B, P)
    big = "x" * delivery.SQS_MAX_BODY
    with pytest.raises(delivery.MessageTooLarge) as raised:
        delivery.prepare("m1", protocol.new_envelope(1), [Target("b", big)], cfg)
    assert "1048576-byte queue limit" in raised.value.reason
    with pytest.raises(RoutingError):
        delivery.prepare("m1", protocol.new_envelope(1), [Target("b", {1, 2})], cfg)


def test_prepare_stops_routing_loops() -> None:
    cfg = config("a", A, B, P, max_hops=2)
    with pytest.raises(protocol.HopLimitExceeded):
        delivery.prepare("m", protocol.Envelope("t", 2, "x", 1), [Target("b", 1)], cfg)


@given(st.lists(st.integers(min_value=1, max_value=600_000), max_size=40))
def test_chunks_respect_sqs_batch_limits(sizes: list[int]) -> None:
    chunks = list(delivery.chunks(sizes, lambda s: s))
    assert [s for chunk in chunks for s in chunk] == sizes
    for chunk in chunks:
        assert 1 <= len(chunk) <= delivery.SQS_MAX_BATCH_ENTRIES
        assert sum(chunk) <= delivery.SQS_MAX_BATCH_BYTES


def test_routing_function_may_only_choose_declared_targets() -> None:
    own = message_component("a", Routing(components=("b",), function="m:f"))
    known = {**KNOWN, "a": own}

    def to(name: str) -> Any:
        return lambda error, result: [{"name": name, "data": result}]

    assert routing.decide(own, known, None, 1, to("b")) == [Target("b", 1)]
    for undeclared in ("p", "a"):  # known components, but not declared for this function
        with pytest.raises(RoutingError, match="not a component"):
            routing.decide(own, known, None, 1, to(undeclared))
