"""In-flight accounting with the lease queue, against real SQS visibility semantics."""

from __future__ import annotations

import time

import pytest
from rt_support import APP, Runtime, config
from rt_support import message_component as mc

from lambda_complex.runtime import inflight, names

LEASES = names.inflight_queue_name(APP, "a")


def setup(rt: Runtime) -> None:
    a = mc("a")
    rt.use_config(config("a", a))
    rt.create_queues(a)


def test_leases_count_started_invocations_and_are_reused(rt: Runtime) -> None:
    setup(rt)
    first = inflight.take(APP, "a", 12, 30)  # more than one SQS batch, from an empty pool
    assert len(set(first)) == 12 and inflight.count(APP, "a") == 12
    for receipt in first[:5]:
        inflight.release(APP, "a", receipt)
    assert inflight.count(APP, "a") == 7
    # Handed-back tokens are taken again: the pool grows only by what is missing.
    second = inflight.take(APP, "a", 6, 30)
    assert len(second) == 6 and inflight.count(APP, "a") == 13 and rt.total(LEASES) == 13
    inflight.hand_back(APP, "a", first[5:] + second)
    assert inflight.count(APP, "a") == 0 and rt.total(LEASES) == 13


def test_crashed_invocation_frees_its_slot_after_the_timeout(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(rt)
    monkeypatch.setattr(inflight, "LEASE_MARGIN_S", 0)
    crashed = inflight.take(APP, "a", 1, timeout_s=1)  # never released: the invocation "died"
    assert crashed and inflight.count(APP, "a") == 1
    time.sleep(1.3)
    assert inflight.count(APP, "a") == 0
    reused = inflight.take(APP, "a", 1, timeout_s=1)
    assert reused and rt.total(LEASES) == 1


def test_missing_lease_queue_does_not_block_work(rt: Runtime) -> None:
    assert inflight.take(APP, "nope", 3, 30) == []
    inflight.release(APP, "nope", "stale-receipt")  # logged, not raised
    inflight.hand_back(APP, "nope", ["stale-receipt"])
    inflight.release(APP, "a", None)
