"""The message envelope (`protocol`): parsing, wrapping raw payloads, hop counting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambda_complex.runtime import protocol
from lambda_complex.runtime.protocol import EnvelopeError, HopLimitExceeded

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)


@given(json_values, st.integers(min_value=0, max_value=100))
def test_round_trip(data: Any, hops: int) -> None:
    original = protocol.Envelope("abc", hops, "a", data)
    assert protocol.parse_envelope(original.to_json()) == original


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "malformed JSON"),
        ("", "malformed JSON"),
        ("[1, 2]", "a JSON list"),
        ('{"data": 1}', "'lc' is None"),
        ('{"lc": 2, "trace_id": "x", "hops": 0, "source": "a", "data": 1}', "'lc' is 2"),
        ('{"lc": 1, "trace_id": "x", "source": "a"}', "missing data, hops"),
        ('{"lc": 1, "trace_id": "", "hops": 0, "source": "a", "data": 1}', "trace_id"),
        ('{"lc": 1, "trace_id": "x", "hops": -1, "source": "a", "data": 1}', "hops"),
        ('{"lc": 1, "trace_id": "x", "hops": true, "source": "a", "data": 1}', "hops"),
        ('{"lc": 1, "trace_id": "x", "hops": 0, "source": 3, "data": 1}', "source"),
    ],
)
def test_parse_rejects_with_reason(body: str, reason: str) -> None:
    with pytest.raises(EnvelopeError) as raised:
        protocol.parse_envelope(body)
    assert reason in raised.value.reason


def test_raw_invocation_payload_is_wrapped_at_hop_zero() -> None:
    wrapped = protocol.envelope_from_event({"url": "x"})
    assert (wrapped.hops, wrapped.source, wrapped.data) == (0, protocol.EXTERNAL, {"url": "x"})
    assert len(wrapped.trace_id) == 32
    assert protocol.envelope_from_event(wrapped.to_dict()) == wrapped


def test_payload_claiming_to_be_an_envelope_must_be_one() -> None:
    with pytest.raises(EnvelopeError):
        protocol.envelope_from_event({"lc": 1, "data": 2})


def test_next_hop_keeps_trace_and_counts() -> None:
    start = protocol.new_envelope({"n": 1})
    nxt = protocol.next_hop(start, "b", {"n": 2}, max_hops=3)
    assert (nxt.trace_id, nxt.hops, nxt.source, nxt.data) == (start.trace_id, 1, "b", {"n": 2})
    assert json.loads(nxt.to_json())["lc"] == 1


def test_hop_limit_stops_a_loop() -> None:
    current = protocol.new_envelope(1)
    for _ in range(3):
        current = protocol.next_hop(current, "a", 1, max_hops=3)
    with pytest.raises(HopLimitExceeded) as raised:
        protocol.next_hop(current, "a", 1, max_hops=3)
    assert "hop limit 3" in raised.value.reason
