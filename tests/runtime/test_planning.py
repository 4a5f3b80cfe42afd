"""Coordinator planning and chain decisions, pure."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rt_support import config, invocation_component, message_component

from lambda_complex.runtime import chains, planning
from lambda_complex.runtime.chains import Heartbeat
from lambda_complex.runtime.planning import Status


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=50))
def test_shares_sum_to_free_exactly(free: int, n: int) -> None:
    shares = [planning.share(free, i, n) for i in range(n)]
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
    planned = [planning.plan(status, cfg, i, n).get("a", 0) for i in range(n)]
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
    assert planning.plan(status, cfg, 0, 1) == {"a": 2}
    assert planning.plan(status, cfg, 5, 2) == {}  # a chain beyond concurrency plans nothing


def test_plan_over_limit_in_flight_plans_nothing() -> None:
    cfg = config("coordinator", message_component("a", max_concurrency=2))
    assert planning.plan({"a": Status(10, 5)}, cfg, 0, 1) == {}


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


def test_entry_components_are_the_coordinated_ones_nothing_routes_to() -> None:
    from lambda_complex.runtime.config import NATIVE, Routing

    cfg = config(
        "coordinator",
        message_component("a", Routing(components=("b",))),
        message_component("b", Routing(components=("p",))),
        invocation_component("p", Routing(components=("c",))),
        message_component("c"),
        message_component("n", dispatch=NATIVE),
        message_component("z"),
    )
    assert planning.entry_components(cfg) == ["a", "z"]
    # A routing function that declares no targets may send anywhere: nothing is an entry.
    anywhere = config("coordinator", message_component("a", Routing(function="r.route")),
                      message_component("b"))
    assert planning.entry_components(anywhere) == []


def watch_sleeps(wait: float, interval: int, starts: list[bool]) -> list[tuple[float, bool]]:
    """The (sleep, look) steps of a wait whose looks start something as `starts` says."""
    steps, left, arriving, looks = [], wait, False, iter(starts)
    while left > 0:
        step, look = planning.watch_step(left, interval, arriving)
        steps.append((step, look))
        left -= step
        if not look:
            break
        arriving = next(looks, False)
    return steps


@pytest.mark.parametrize(("wait", "interval", "starts", "steps"), [
    (3.0, 1, [], [(1.0, True), (1.0, True), (1.0, False)]),
    (2.5, 1, [], [(1.0, True), (1.0, True), (0.5, False)]),
    (0.4, 1, [], [(0.4, False)]),
    (3.0, 0, [], [(3.0, False)]),
    (0.0, 1, [], []),
    (-1.0, 0, [], []),
    # a look that starts something is followed up soon; one that starts nothing is not
    (2.0, 1, [True, False], [(1.0, True), (0.25, True), (0.75, False)]),
    (2.0, 1, [True, True, False], [(1.0, True), (0.25, True), (0.25, True), (0.5, False)]),
])
def test_the_watch_cuts_the_wait_and_follows_a_start_up_soon(
    wait: float, interval: int, starts: list[bool], steps: list[tuple[float, bool]]
) -> None:
    assert watch_sleeps(wait, interval, starts) == steps
    assert math.isclose(sum(s for s, _ in steps), max(0.0, wait))


def test_after_a_plan_that_started_an_entry_component_the_first_look_comes_soon() -> None:
    assert planning.watch_step(2.0, 1, arriving=True) == (planning.WATCH_FOLLOW_UP_S, True)
    assert planning.watch_step(2.0, 0, arriving=True) == (2.0, False)  # the watch is off


def test_the_entry_watch_starts_only_what_in_flight_invocations_do_not_cover() -> None:
    cfg = config("coordinator", message_component("a", max_concurrency=5, batch_size=10))
    watch = planning.watch_plan
    assert watch({"a": Status(5, 0)}, cfg) == {"a": 1}
    assert watch({"a": Status(5, 1)}, cfg) == {}  # the one started at the last look takes it
    assert watch({"a": Status(35, 1)}, cfg) == {"a": 3}
    assert watch({"a": Status(100, 4)}, cfg) == {"a": 1}  # the limit: 5
    assert watch({"a": Status(0, 0)}, cfg) == {}
