"""In-flight accounting with the lease queue, against real SQS visibility semantics."""

from __future__ import annotations

import time

import pytest
from rt_support import APP, Runtime, config
from rt_support import message_component as mc

from lambda_complex.runtime import inflight, names


def test_leases_count_running_invocations_and_are_reused(rt: Runtime) -> None:
    a = mc("a")
    rt.use_config(config("a", a))
    rt.create_queues(a)
    lease_queue = names.inflight_queue_name(APP, "a")
    first = inflight.acquire(APP, "a", 30)
    second = inflight.acquire(APP, "a", 30)
    assert first and second and first != second
    assert inflight.count(APP, "a") == 2
    inflight.release(first)
    assert inflight.count(APP, "a") == 1
    inflight.release(second)
    assert inflight.count(APP, "a") == 0
    # The pool keeps its two tokens: the next starts receive them, no new token is sent.
    third = inflight.acquire(APP, "a", 30)
    assert inflight.count(APP, "a") == 1 and rt.total(lease_queue) == 2
    inflight.release(third)


def test_crashed_invocation_frees_its_slot_after_the_timeout(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = mc("a")
    rt.use_config(config("a", a))
    rt.create_queues(a)
    monkeypatch.setattr(inflight, "LEASE_MARGIN_S", 0)
    crashed = inflight.acquire(APP, "a", timeout_s=1)  # never released: the invocation "died"
    assert crashed and inflight.count(APP, "a") == 1
    time.sleep(1.3)
    assert inflight.count(APP, "a") == 0
    reused = inflight.acquire(APP, "a", timeout_s=1)
    assert reused and rt.total(names.inflight_queue_name(APP, "a")) == 1


def test_missing_lease_queue_does_not_block_work(rt: Runtime) -> None:
    assert inflight.acquire(APP, "nope", 30) is None
    inflight.release(None)
