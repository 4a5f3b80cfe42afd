"""The idle decisions, pure: when a chain stops, what the schedule then reads and whom it wakes."""

from __future__ import annotations

import pytest
from rt_support import config, invocation_component
from rt_support import message_component as mc

from lambda_complex.runtime import chains, planning
from lambda_complex.runtime.chains import Heartbeat
from lambda_complex.runtime.config import COORDINATOR, NATIVE, PUSH
from lambda_complex.runtime.planning import Status


@pytest.mark.parametrize(
    ("last_busy", "now", "idle_after", "stops"),
    [
        (100.0, 100.0, 300, False),  # just busy
        (100.0, 399.9, 300, False),  # not quite idle_after
        (100.0, 400.0, 300, True),  # idle_after without work
        (100.0, 10_000.0, 300, True),
        (100.0, 10_000.0, 0, False),  # 0: never stop
    ],
)
def test_goes_idle(last_busy: float, now: float, idle_after: int, stops: bool) -> None:
    assert chains.goes_idle(last_busy, now, idle_after) is stops


def beat(lineage: str = "L1", timestamp: float = 100.0, last_busy: float = 50.0,
         idle: bool = False) -> Heartbeat:
    return Heartbeat(lineage, 3, timestamp, "req", last_busy, idle)


@pytest.mark.parametrize(
    ("heartbeat", "lineage", "expected"),
    [
        (None, "L1", 200.0),  # a chain's first heartbeat: counting starts now
        (beat("L1"), "L1", 50.0),  # carried along the lineage
        (beat("L0"), "L1", 200.0),  # taking over an older lineage: start afresh
        (Heartbeat("L1", chains.SCHEDULED, 190.0, "schedule", 190.0), "L1", 190.0),  # woken
    ],
)
def test_last_busy_is_carried_along_a_lineage_only(
    heartbeat: Heartbeat | None, lineage: str, expected: float
) -> None:
    assert chains.last_busy_before(heartbeat, lineage, started=200.0) == expected


def test_idle_chains_are_down_whatever_their_age() -> None:
    beats = {
        0: beat(timestamp=105.0),  # running
        1: beat(timestamp=105.0, idle=True),  # idle, just written
        2: beat(timestamp=10.0),  # stale
        3: None,  # missing
    }
    assert chains.chains_to_restart(beats, 4, now=110.0, stale_after=25.0) == [1, 2, 3]


RAN = {0: beat(), 1: beat(idle=True), 2: beat(timestamp=0.0)}  # every chain has run
FRESH: dict[int, Heartbeat | None] = {0: None, 1: None}  # a fresh deployment
HALF = {0: beat(idle=True), 1: None}


@pytest.mark.parametrize(
    ("heartbeats", "down", "idle_after", "paused", "check", "with_work", "without"),
    [
        (RAN, [], 300, False, False, [], []),  # all running: the heartbeats answer
        (RAN, [1, 2], 300, False, True, [1, 2], []),  # down: woken only when there is work
        (RAN, [1], 300, True, False, [], []),  # paused: nobody woken, no queue read
        (FRESH, [0, 1], 300, False, False, [0, 1], [0, 1]),  # never ran: start, no read
        (FRESH, [0, 1], 300, True, False, [], []),  # not while paused
        (HALF, [0, 1], 300, False, True, [0, 1], [1]),
        (RAN, [2], 0, False, False, [2], [2]),  # never idle: a stale chain is replaced anyway
        (RAN, [2], 0, True, False, [2], [2]),  # as before idle stops existed
    ],
)
def test_what_the_schedule_reads_and_wakes(
    heartbeats: dict[int, Heartbeat | None], down: list[int], idle_after: int, paused: bool,
    check: bool, with_work: list[int], without: list[int],
) -> None:
    assert chains.work_check_needed(heartbeats, down, idle_after, paused) is check
    assert chains.chains_to_wake(heartbeats, down, idle_after, paused, True) == with_work
    assert chains.chains_to_wake(heartbeats, down, idle_after, paused, False) == without


@pytest.mark.parametrize(
    ("heartbeat", "now", "expected"),
    [
        (None, 100.0, "missing"),
        (beat(timestamp=100.0), 110.0, "running"),
        (beat(timestamp=100.0), 126.0, "stale"),  # min_interval 10 + 15 s slack
        (beat(timestamp=100.0, idle=True), 10_000.0, "idle"),
    ],
)
def test_state_of_a_chain(heartbeat: Heartbeat | None, now: float, expected: str) -> None:
    assert chains.state(heartbeat, now, min_interval=10) == expected


def test_heartbeat_round_trip_and_an_older_heartbeat_without_idle_fields() -> None:
    mine = Heartbeat("L", 4, 1.5, "req", 1.25, True)
    assert Heartbeat.parse(mine.to_json()) == mine
    old = Heartbeat.parse('{"lineage":"L","generation":4,"timestamp":9.5,"instance":"r"}')
    assert old == Heartbeat("L", 4, 9.5, "r", 9.5, False)  # busy when written: never idle
    assert Heartbeat.parse('{"lineage":"L","generation":4,"timestamp":9.5,"idle":"yes"}') \
        == Heartbeat("L", 4, 9.5, "", 9.5, False)


APP_CONFIG = config(
    "coordinator",
    mc("a", dispatch=PUSH),
    mc("b", dispatch=COORDINATOR),
    mc("n", dispatch=NATIVE),
    invocation_component("p"),
)


@pytest.mark.parametrize(
    ("status", "busy"),
    [
        ({"a": Status(0, 0), "b": Status(0, 0)}, False),
        ({"a": Status(0, 0), "b": Status(0, 0), "n": Status(50, 2, 3)}, False),  # mapping's
        ({"a": Status(1, 0), "b": Status(0, 0)}, True),  # queued
        ({"a": Status(0, 0), "b": Status(0, 0, 1)}, True),  # received, being handled
        ({"a": Status(0, 1), "b": Status(0, 0)}, True),  # in flight
        ({"a": Status(0, 0)}, True),  # b could not be read: not known to be idle
    ],
)
def test_has_work(status: dict[str, Status], busy: bool) -> None:
    assert planning.has_work(status, APP_CONFIG) is busy


def test_plan_and_the_status_reads_leave_native_components_out() -> None:
    assert planning.coordinated(APP_CONFIG) == ["a", "b"]
    status = {"a": Status(5, 0), "b": Status(5, 0), "n": Status(5, 0)}
    assert planning.plan(status, APP_CONFIG, 0, 1) == {"a": 1, "b": 1}


def test_a_trickle_keeps_the_chain_and_quiet_stops_it() -> None:
    """Generations every 10 s: one message every 250 s keeps the chain (idle_after 300); once
    the inputs stop, the chain stops after idle_after plus at most one generation."""
    idle_after, interval = 300, 10
    last_busy, stopped_at = 0.0, None
    for step in range(200):
        now = step * interval
        if now <= 1000 and now % 250 == 0:  # a generation that sees the input queued
            last_busy = now
        if chains.goes_idle(last_busy, now, idle_after):
            stopped_at = now
            break
    assert stopped_at is not None and last_busy == 1000
    assert idle_after <= stopped_at - last_busy < idle_after + interval
