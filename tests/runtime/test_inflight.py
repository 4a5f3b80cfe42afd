"""In-flight accounting with the lease queue, against real SQS visibility semantics."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from rt_support import APP, LambdaStub, Runtime, config
from rt_support import message_component as mc

from lambda_complex.runtime import inflight, invoker, names, protocol

LEASES = names.inflight_queue_name(APP, "a")


def setup(rt: Runtime) -> None:
    a = mc("a")
    rt.use_config(config("a", a))
    rt.create_queues(a)


def test_leases_count_started_invocations_and_are_reused(rt: Runtime) -> None:
    setup(rt)
    first = inflight.take(APP, "a", 12, 30, limit=12)  # more than one SQS batch, empty pool
    assert len(set(first)) == 12 and inflight.count(APP, "a") == 12
    for receipt in first[:5]:
        inflight.release(APP, "a", receipt)
    assert inflight.count(APP, "a") == 7
    # Handed-back tokens are taken again; the pool never grows past the limit: a start beyond
    # the free slots gets no lease.
    second = inflight.take(APP, "a", 6, 30, limit=12)
    assert len(second) == 5 and inflight.count(APP, "a") == 12 and rt.total(LEASES) == 12
    inflight.hand_back(APP, "a", [str(r) for r in first[5:] + second])
    assert inflight.count(APP, "a") == 0 and rt.total(LEASES) == 12


def test_the_pool_holds_exactly_the_limit_so_a_free_token_is_a_free_slot(rt: Runtime) -> None:
    setup(rt)
    assert inflight.take_free(APP, "a", 30) is None  # an empty pool: no slot known free
    taken = inflight.take(APP, "a", 1, 30, limit=2)  # the coordinator seeds the pool to 2
    assert len(taken) == 1 and rt.total(LEASES) == 2
    pushed = inflight.take_free(APP, "a", 30)
    assert pushed is not None and inflight.count(APP, "a") == 2
    assert inflight.take_free(APP, "a", 30) is None  # both slots taken
    assert inflight.take(APP, "a", 1, 30, limit=2) == []  # the coordinator gets none either
    inflight.release(APP, "a", pushed)
    assert inflight.take_free(APP, "a", 30) is not None and rt.total(LEASES) == 2


def test_crashed_invocation_frees_its_slot_after_the_timeout(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(rt)
    monkeypatch.setattr(inflight, "LEASE_MARGIN_S", 0)
    crashed = inflight.take(APP, "a", 1, timeout_s=1, limit=1)  # never released: it "died"
    assert crashed and inflight.count(APP, "a") == 1
    time.sleep(1.3)
    assert inflight.count(APP, "a") == 0
    reused = inflight.take(APP, "a", 1, timeout_s=1, limit=1)
    assert reused and rt.total(LEASES) == 1


def logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The runtime's JSON log lines written since the last call."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def test_missing_lease_queue_does_not_block_work(
    rt: Runtime, lambda_stub: LambdaStub, capsys: pytest.CaptureFixture[str]
) -> None:
    # Component "a" is configured but its lease queue was never created.
    cfg = rt.use_config(config("coordinator", mc("a", max_concurrency=3, batch_size=1)))
    capsys.readouterr()

    result = invoker.fan_out(cfg, [("a", 3)])

    # The work is started all the same: three invocations, each without a lease.
    assert result == {"invoked": 3, "children": 0, "failed": 0}
    assert [(c.function, c.invocation_type, c.payload) for c in lambda_stub.calls] == [
        ("t-a", "Event", protocol.Nudge(lease=None).to_dict())
    ] * 3
    failures = [line for line in logged(capsys) if line["event"] == "lease_failed"]
    assert [(f["component"], "NonExistentQueue" in f["error"]) for f in failures] == [("a", True)]

    # Handing back or releasing a lease of a queue that is gone is logged, never raised.
    inflight.hand_back(APP, "a", ["stale-receipt"])
    inflight.release(APP, "a", "stale-receipt")
    assert [(e["event"], e["component"]) for e in logged(capsys)] == [
        ("lease_release_failed", "a"),
        ("lease_release_failed", "a"),
    ]
    # An invocation started without a lease has nothing to hand back: no call, no log line.
    inflight.release(APP, "a", None)
    assert logged(capsys) == []
