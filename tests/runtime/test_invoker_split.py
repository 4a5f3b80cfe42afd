"""The invoker's fan-out split, pure: every instance makes at most max_invocations calls."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from lambda_complex.runtime import invoker, protocol

invocation_lists = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(min_value=1, max_value=400)),
    max_size=5,
)


def expand(invocations: invoker.Invocations, m: int) -> tuple[Counter[str], int, int]:
    """Run the whole fan-out tree: (invocations made per component, instances, depth)."""
    made: Counter[str] = Counter()
    split = invoker.split(invocations, m)
    assert invoker.total(split.direct) + len(split.children) <= max(m, invoker.MIN_FAN_OUT)
    for component, count in split.direct:
        made[component] += count
    instances, depth = 1, 0
    for child in split.children:
        assert 0 < invoker.total(child) < invoker.total(invocations)  # progress: terminates
        child_made, child_instances, child_depth = expand(child, m)
        made += child_made
        instances += child_instances
        depth = max(depth, child_depth + 1)
    return made, instances, depth


@settings(max_examples=200)
@given(invocation_lists, st.integers(min_value=1, max_value=25))
def test_fan_out_delivers_exactly_and_respects_the_cap(
    invocations: invoker.Invocations, m: int
) -> None:
    expected: Counter[str] = Counter()
    for component, count in invocations:
        expected[component] += count
    made, _, _ = expand(invocations, m)
    assert made == expected


def test_small_plans_need_no_children() -> None:
    split = invoker.split([("a", 3), ("b", 2)], 5)
    assert split == invoker.Split([("a", 3), ("b", 2)], [])


def test_two_levels_when_total_fits_m_plus_m_minus_1_squared() -> None:
    split = invoker.split([("a", 20 + 19 * 19)], 20)
    assert invoker.total(split.direct) + len(split.children) == 20
    assert all(invoker.total(c) <= 20 for c in split.children)
    _, _, depth = expand([("a", 1000)], 20)
    assert depth == 2


def test_take_and_parse() -> None:
    assert invoker.take([("a", 2), ("b", 3)], 3) == ([("a", 2), ("b", 1)], [("b", 2)])
    event = {"invocations": [{"component": "a", "count": 2}, {"component": "b", "count": 0}]}
    assert protocol.InvokerEvent.from_event(event).invocations == [("a", 2)]
    assert protocol.InvokerEvent.from_event("nonsense").invocations == []
