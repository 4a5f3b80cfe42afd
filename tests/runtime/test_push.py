"""Push dispatch: a component that has sent results to a queue component starts it at once when a
slot is free, by a lease from the same exact pool the coordinator takes from; never beyond the
limit, never while dispatch is stopped, never for a component dispatched by the coordinator only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rt_support import APP, FakeContext, LambdaStub, Runtime, config
from rt_support import message_component as mc

from lambda_complex.runtime import control, inflight, names, protocol, push, wrapper
from lambda_complex.runtime.config import COORDINATOR, Routing

HANDLER = """
def handler(event, context):
    return {"seen": event["n"]}
"""


def _setup(rt: Runtime, b_limit: int = 2, b_dispatch: str = "push", a_batch: int = 10) -> None:
    module = rt.handler_module(HANDLER)
    a = mc("a", Routing(components=("b",)), handler=f"{module}.handler", batch_size=a_batch)
    b = mc("b", handler=f"{module}.handler", max_concurrency=b_limit, dispatch=b_dispatch)
    rt.use_config(config("a", a, b))
    rt.create_queues(a)
    rt.create_queues(b)
    push._pause_read.clear()


def _run_a(rt: Runtime, inputs: int = 3) -> dict[str, Any]:
    for n in range(inputs):
        rt.send("a", {"n": n})
    return wrapper.handler(protocol.Nudge(None).to_dict(), FakeContext(10_000))


def _pushes(stub: LambdaStub) -> list[Any]:
    b = names.function_name(APP, "b")
    return [c.payload for c in stub.calls if c.function == b]


def test_a_sender_starts_the_fed_component_with_a_lease_when_a_slot_is_free(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    _setup(rt)
    inflight.take(APP, "b", 1, 30, limit=2)  # the coordinator's pool: 2 tokens, 1 taken
    assert _run_a(rt)["succeeded"] == 3
    (payload,) = _pushes(lambda_stub)  # one batch of results: one start
    assert payload["source"] == protocol.PUSH_SOURCE and payload["lease"]
    assert inflight.count(APP, "b") == 2  # the push holds the last free slot
    assert rt.depth(names.queue_name(APP, "b"))[0] == 3  # the results wait in b's queue


def test_no_start_beyond_the_limit(rt: Runtime, lambda_stub: LambdaStub) -> None:
    _setup(rt, b_limit=1)
    inflight.take(APP, "b", 1, 30, limit=1)  # limit 1, and its one slot is busy
    _run_a(rt)
    assert _pushes(lambda_stub) == [] and inflight.count(APP, "b") == 1


def test_a_sender_that_found_every_slot_busy_does_not_try_again_at_each_batch(
    rt: Runtime, lambda_stub: LambdaStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(rt, b_limit=1, a_batch=1)  # one message per batch: three settle steps feed b
    inflight.take(APP, "b", 1, 30, limit=1)  # b's one slot is busy: its invocation takes them
    tries: list[str] = []
    take_free = inflight.take_free

    def counted(app: str, component: str, timeout: int) -> str | None:
        tries.append(component)
        return take_free(app, component, timeout)

    monkeypatch.setattr(inflight, "take_free", counted)
    assert _run_a(rt)["succeeded"] == 3
    assert tries == ["b"]  # one lease receive, not one per batch
    assert _pushes(lambda_stub) == []


def test_no_start_while_dispatch_is_stopped(rt: Runtime, lambda_stub: LambdaStub) -> None:
    _setup(rt)
    inflight.take(APP, "b", 1, 30, limit=2)
    rt.ssm.put_parameter(Name=names.control_parameter_name(APP), Value=control.PAUSED,
                         Type="String", Overwrite=True)
    _run_a(rt)
    assert _pushes(lambda_stub) == [] and inflight.count(APP, "b") == 1


def test_no_start_for_a_component_the_coordinator_alone_dispatches(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    _setup(rt, b_dispatch=COORDINATOR)
    inflight.take(APP, "b", 1, 30, limit=2)
    _run_a(rt)
    assert _pushes(lambda_stub) == []


def test_a_failed_start_hands_its_lease_back(
    rt: Runtime, lambda_stub: LambdaStub, capsys: pytest.CaptureFixture[str]
) -> None:
    _setup(rt)
    inflight.take(APP, "b", 1, 30, limit=2)
    lambda_stub.throttled.add(names.function_name(APP, "b"))  # Invoke answers 429
    capsys.readouterr()
    _run_a(rt)
    failed = [json.loads(line) for line in capsys.readouterr().out.splitlines()
              if '"push_failed"' in line]
    assert [f["component"] for f in failed] == ["b"]
    assert inflight.count(APP, "b") == 1  # the push's lease is free again


def test_targets_are_each_fed_push_component_once_unless_tried_just_now() -> None:
    b = mc("b")
    c = mc("c", dispatch=COORDINATOR)
    cfg = config("a", mc("a", Routing(components=("b", "c"))), b, c)
    assert push.targets(["b", "c", "b"], cfg) == ["b"]  # c: the coordinator alone starts it
    assert push.targets(["b"], cfg, recent=["b"]) == []  # tried by this invocation just now
    assert push.targets(["unknown"], cfg) == []
