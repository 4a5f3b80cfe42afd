"""The coordinator's I/O edge against real SQS/SSM (moto) and a Lambda data-plane stand-in."""

from __future__ import annotations

import json
from typing import Any

from rt_support import APP, FakeContext, LambdaStub, Runtime, config, invocation_component
from rt_support import message_component as mc

from lambda_complex.runtime import chains, control, coordinator, inflight, invoker, names, wrapper
from lambda_complex.runtime.config import CoordinatorConfig, RuntimeConfig
from lambda_complex.runtime.coordinator import Status


def setup(rt: Runtime, **coordinator_settings: Any) -> RuntimeConfig:
    settings: dict[str, Any] = {"concurrency": 1, "min_interval": 0}
    settings.update(coordinator_settings)
    cfg = config(
        "coordinator",
        mc("a", max_concurrency=5, batch_size=10),
        mc("b", max_concurrency=2, batch_size=1),
        invocation_component("p"),
        coordinator=CoordinatorConfig(**settings),
    )
    rt.use_config(cfg)
    for component in cfg.components.values():
        rt.create_queues(component)
    return cfg


def fill(rt: Runtime, component: str, n: int) -> None:
    url = rt.url(names.queue_name(APP, component))
    for start in range(0, n, 10):
        rt.sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": "{}"} for i in range(start, min(n, start + 10))],
        )


def heartbeat(rt: Runtime, chain: int) -> chains.Heartbeat | None:
    name = names.chain_parameter_name(APP, chain)
    values = rt.ssm.get_parameters(Names=[name])["Parameters"]
    return chains.Heartbeat.parse(values[0]["Value"]) if values else None


def generation_event(chain: int = 0, generation: int = 1, lineage: str = "L1") -> dict[str, Any]:
    return {"chain": chain, "generation": generation, "lineage": lineage}


def test_plan_from_real_queue_attributes(rt: Runtime) -> None:
    cfg = setup(rt)
    fill(rt, "a", 25)
    fill(rt, "b", 1)
    (lease,) = inflight.take(APP, "a", 1, 30, limit=1)
    status = coordinator.read_status(cfg)
    assert status == {"a": Status(25, 1), "b": Status(1, 0)}
    assert coordinator.plan(status, cfg, 0, 1) == {"a": 3, "b": 1}
    inflight.release(APP, "a", lease)


def test_generation_dispatches_heartbeats_and_continues(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    setup(rt)
    fill(rt, "a", 15)
    context = FakeContext(function="t-coordinator")
    result = coordinator.handler(generation_event(), context)
    assert result["continued"] and result["planned"] == {"a": 2}
    assert lambda_stub.functions() == ["t-a", "t-a", "t-coordinator"]
    leases = [c.payload.pop("lease") for c in lambda_stub.calls[:2]]
    assert len(set(leases)) == 2 and inflight.count(APP, "a") == 2
    assert lambda_stub.calls[0].payload == {"source": "coordinator"}
    assert lambda_stub.calls[-1].payload == generation_event(generation=2)
    assert {c.invocation_type for c in lambda_stub.calls} == {"Event"}
    beat = heartbeat(rt, 0)
    assert beat and (beat.lineage, beat.generation, beat.instance) == (
        "L1",
        1,
        context.aws_request_id,
    )


def pause(rt: Runtime, value: str) -> None:
    """What `lcbuild pause` / `resume` write (the builder's deploy/pause.py)."""
    rt.ssm.put_parameter(Name=names.control_parameter_name(APP), Value=value, Type="String",
                         Overwrite=True)


def test_paused_dispatches_nothing_but_keeps_the_chain(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    setup(rt)
    fill(rt, "a", 5)
    pause(rt, control.PAUSED)
    result = coordinator.handler(generation_event(), FakeContext())
    assert result["paused"] and result["continued"]
    assert lambda_stub.functions() == ["t-coordinator"]
    pause(rt, control.RUNNING)
    coordinator.handler(generation_event(generation=2), FakeContext())
    assert lambda_stub.functions() == ["t-coordinator", "t-a", "t-coordinator"]


def test_surplus_and_duplicate_chain_instances_exit(rt: Runtime, lambda_stub: LambdaStub) -> None:
    setup(rt, concurrency=2)
    assert not coordinator.handler(generation_event(chain=2), FakeContext())["continued"]
    coordinator.handler(generation_event(generation=3), FakeContext())
    duplicate = coordinator.handler(generation_event(generation=3), FakeContext())
    assert not duplicate["continued"] and "duplicate" in duplicate["reason"]
    older = coordinator.handler(generation_event(generation=9, lineage="L0"), FakeContext())
    assert not older["continued"] and "newer lineage" in older["reason"]
    assert lambda_stub.functions() == ["t-coordinator"]


def test_instance_that_lost_the_chain_during_its_sleep_stops(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    cfg = setup(rt, min_interval=5)
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # another instance writes the heartbeat meanwhile
        slept.append(seconds)
        other = chains.Heartbeat("L1", 1, 0.0, "someone-else")
        coordinator.write_heartbeat(APP, 0, other)

    result = coordinator.run_generation(cfg, generation_event(), FakeContext(), sleep=sleep)
    assert not result["continued"] and lambda_stub.calls == []
    assert 4.0 < slept[0] <= 5.0  # generations start min_interval apart


def test_schedule_restarts_only_missing_or_stale_chains(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    cfg = setup(rt, concurrency=3, min_interval=10)
    now = 1_000_000.0
    coordinator.write_heartbeat(APP, 0, chains.Heartbeat("A", 5, now - 5, "x"))
    coordinator.write_heartbeat(APP, 1, chains.Heartbeat("B", 5, now - 500, "x"))
    assert coordinator.run_schedule(cfg, clock=lambda: now) == {"restarted": [1, 2]}
    payloads = [c.payload for c in lambda_stub.calls]
    assert [(p["chain"], p["generation"]) for p in payloads] == [(1, 0), (2, 0)]
    beat = heartbeat(rt, 1)
    assert beat and beat.lineage == payloads[0]["lineage"] and beat.generation == -1
    # A second schedule event (at-least-once delivery) restarts nothing: no ratchet.
    assert coordinator.run_schedule(cfg, clock=lambda: now + 1) == {"restarted": []}
    # The restarted chain's first generation starts normally.
    started = coordinator.run_generation(cfg, payloads[0], FakeContext(), sleep=lambda _: None)
    assert started["continued"]


def test_large_plans_fan_out_through_invokers(rt: Runtime, lambda_stub: LambdaStub) -> None:
    cfg = setup(rt, max_invocations=3)
    cfg_big = config(
        "coordinator",
        mc("a", max_concurrency=20, batch_size=1),
        coordinator=cfg.coordinator,
    )
    rt.use_config(cfg_big)
    fill(rt, "a", 8)
    result = coordinator.handler(generation_event(), FakeContext())
    assert result["planned"] == {"a": 8}
    calls = lambda_stub.functions()
    assert calls.count("t-a") + calls.count("t-invoker") == 3  # the coordinator's own cap
    children = [c.payload for c in lambda_stub.calls if c.function == "t-invoker"]
    lambda_stub.calls.clear()
    for child in children:
        invoker.handler(child, FakeContext())
    total_direct = calls.count("t-a") + lambda_stub.functions().count("t-a")
    assert total_direct == 8 and lambda_stub.functions().count("t-invoker") == 0


def test_api_concurrency_is_bounded(rt: Runtime, lambda_stub: LambdaStub) -> None:
    cfg = config(
        "coordinator",
        mc("a", max_concurrency=8, batch_size=1),
        coordinator=CoordinatorConfig(max_api_concurrency=2, max_invocations=20),
    )
    rt.use_config(cfg)
    lambda_stub.delay = 0.1
    assert invoker.fan_out(cfg, [("a", 8)])["invoked"] == 8
    assert lambda_stub.max_active <= 2 and len(lambda_stub.calls) == 8


def test_throttled_component_invoke_does_not_stop_the_chain(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    setup(rt)
    fill(rt, "a", 5)
    lambda_stub.throttled.add("t-a")
    result = coordinator.handler(generation_event(), FakeContext())
    assert result["continued"] and result["dispatch"]["failed"] == 1
    assert lambda_stub.functions() == ["t-coordinator"]
    assert inflight.count(APP, "a") == 0  # the lease of the invocation that never started


def test_started_invocations_count_before_they_run(rt: Runtime, lambda_stub: LambdaStub) -> None:
    """The lease is taken before the Invoke: the next generation cannot overshoot the limit while
    the first invocations are still queued or cold-starting (the wrapper takes none itself)."""
    cfg = setup(rt)
    fill(rt, "a", 100)
    assert coordinator.handler(generation_event(), FakeContext())["planned"] == {"a": 5}
    assert coordinator.handler(generation_event(generation=2), FakeContext())["planned"] == {}
    first = next(c.payload for c in lambda_stub.calls if c.function == "t-a")
    rt.use_config(config("a", *cfg.components.values()))
    rt.root.joinpath("h.py").write_text("def handler(event, context):\n    return None\n")
    summary = wrapper.handler(first, FakeContext())  # the bodies are not envelopes: DLQ
    assert summary["dead_lettered"] == 100 and inflight.count(APP, "a") == 4  # lease handed back


def test_missing_queue_skips_that_component(rt: Runtime) -> None:
    cfg = setup(rt)
    fill(rt, "b", 2)
    rt.sqs.delete_queue(QueueUrl=rt.url(names.queue_name(APP, "a")))
    assert coordinator.read_status(cfg) == {"b": Status(2, 0)}
    assert json.loads(json.dumps(coordinator.plan(coordinator.read_status(cfg), cfg, 0, 1))) == {
        "b": 2
    }
