"""Coordinator planning and chain decisions, pure."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from rt_support import config, invocation_component, message_component

from lambda_complex.runtime import chains, coordinator
from lambda_complex.runtime.chains import Heartbeat
from lambda_complex.runtime.coordinator import Status


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=50))
def test_shares_sum_to_free_exactly(free: int, n: int) -> None:
    shares = [coordinator.share(free, i, n) for i in range(n)]
    assert sum(shares) == free
    assert max(shares) - min(shares) <= 1


@given(
    max_concurrency=st.integers(min_value=1, max_value=200),
    in_flight=st.integers(min_value=0, max_value=300),
    backlog=st.integers(min_value=0, max_value=5_000),
    batch=st.integers(min_value=1, max_value=10),
    n=st.integers(min_value=1, max_value=12),
)
def test_chains_together_never_exceed_free_slots(
    max_concurrency: int, in_flight: int, backlog: int, batch: int, n: int
) -> None:
    cfg = config(
        "coordinator", message_component("a", max_concurrency=max_concurrency, batch_size=batch)
    )
    status = {"a": Status(backlog, in_flight)}
    planned = [coordinator.plan(status, cfg, i, n).get("a", 0) for i in range(n)]
    free = max(0, max_concurrency - in_flight)
    assert sum(planned) == min(free, math.ceil(backlog / batch))
    assert all(p >= 0 for p in planned)


def test_plan_skips_invocation_components_and_missing_status() -> None:
    cfg = config(
        "coordinator",
        message_component("a", max_concurrency=3),
        message_component("b"),
        invocation_component("p"),
    )
    status = {"a": Status(100, 1), "p": Status(100, 0)}
    assert coordinator.plan(status, cfg, 0, 1) == {"a": 2}
    assert coordinator.plan(status, cfg, 5, 2) == {}  # a chain beyond concurrency plans nothing


def test_plan_over_limit_in_flight_plans_nothing() -> None:
    cfg = config("coordinator", message_component("a", max_concurrency=2))
    assert coordinator.plan({"a": Status(10, 5)}, cfg, 0, 1) == {}


def hb(lineage: str, generation: int, ts: float = 0.0, instance: str = "i") -> Heartbeat:
    return Heartbeat(lineage, generation, ts, instance)


def test_should_start() -> None:
    assert chains.should_start(0, "L2", 0, None, 1)[0]
    assert not chains.should_start(1, "L2", 0, None, 1)[0]  # index beyond concurrency
    assert not chains.should_start(0, "L1", 5, hb("L2", 0), 1)[0]  # newer lineage wins
    assert chains.should_start(0, "L2", 0, hb("L1", 9), 1)[0]  # takes over older lineage
    assert chains.should_start(0, "L1", 4, hb("L1", 3), 1)[0]  # next generation
    assert not chains.should_start(0, "L1", 3, hb("L1", 3), 1)[0]  # duplicate delivery
    assert chains.should_start(0, "L1", 0, hb("L1", chains.SCHEDULED), 1)[0]  # scheduled start


def test_two_lineages_converge_to_one() -> None:
    """Simulate two lineages of one chain alternating heartbeat reads/writes: the older exits."""
    old, new = chains.new_lineage(100.0), chains.new_lineage(200.0)
    assert old < new
    heartbeat: Heartbeat | None = None
    alive = {old: 0, new: 0}
    for _ in range(4):
        for lineage in list(alive):
            generation = alive[lineage] + 1
            if chains.should_start(0, lineage, generation, heartbeat, 1)[0]:
                heartbeat = hb(lineage, generation)
                alive[lineage] = generation
            else:
                del alive[lineage]
    assert list(alive) == [new]


def test_chains_to_restart() -> None:
    beats = {0: hb("a", 1, ts=100.0), 1: hb("b", 1, ts=10.0), 3: hb("c", 1, ts=100.0)}
    assert chains.chains_to_restart(beats, 3, now=110.0, stale_after=50.0) == [1, 2]
    assert chains.stale_after_s(10) == 25.0
    assert chains.replaced_within_s(10) == 85.0


def test_still_owner_and_heartbeat_parse() -> None:
    mine = hb("L", 3, 1.5, "req-1")
    assert Heartbeat.parse(mine.to_json()) == mine
    assert chains.still_owner(mine, Heartbeat.parse(mine.to_json()))
    assert not chains.still_owner(mine, hb("L", 3, 1.6, "req-2"))
    assert not chains.still_owner(mine, None)
    assert Heartbeat.parse("garbage") is None
    assert Heartbeat.parse(None) is None


def test_sleep_before_next() -> None:
    assert chains.sleep_before_next(100.0, 102.0, 10, 60.0) == 8.0
    assert chains.sleep_before_next(100.0, 112.0, 10, 60.0) == 0.0
    assert chains.sleep_before_next(100.0, 101.0, 10, 3.0) == 3.0
