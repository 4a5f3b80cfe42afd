"""The coordinator's I/O edge against real SQS/SSM (moto) and a Lambda data-plane stand-in."""

from __future__ import annotations

import json
from typing import Any

from rt_support import APP, FakeContext, LambdaStub, Runtime, config, invocation_component
from rt_support import message_component as mc

from lambda_complex.runtime import (
    chains,
    control,
    coordinator,
    inflight,
    invoker,
    names,
    planning,
    wrapper,
)
from lambda_complex.runtime.config import NATIVE, CoordinatorConfig, RuntimeConfig
from lambda_complex.runtime.planning import Status


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
    assert planning.plan(status, cfg, 0, 1) == {"a": 3, "b": 1}
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
    cfg = setup(rt, min_interval=30, entry_watch=0)
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # another instance writes the heartbeat meanwhile
        slept.append(seconds)
        other = chains.Heartbeat("L1", 1, 0.0, "someone-else")
        coordinator.write_heartbeat(APP, 0, other)

    result = coordinator.run_generation(cfg, generation_event(), FakeContext(), sleep=sleep)
    assert not result["continued"] and lambda_stub.calls == []
    assert len(slept) == 1 and 20.0 < slept[0] <= 30.0  # generations start min_interval apart


def test_schedule_restarts_only_missing_or_stale_chains(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    cfg = setup(rt, concurrency=3, min_interval=10)
    fill(rt, "b", 1)  # work: down chains are restarted
    now = 1_000_000.0
    coordinator.write_heartbeat(APP, 0, chains.Heartbeat("A", 5, now - 5, "x"))
    coordinator.write_heartbeat(APP, 1, chains.Heartbeat("B", 5, now - 500, "x"))
    assert coordinator.run_schedule(cfg, clock=lambda: now)["restarted"] == [1, 2]
    payloads = [c.payload for c in lambda_stub.calls]
    assert [(p["chain"], p["generation"]) for p in payloads] == [(1, 0), (2, 0)]
    beat = heartbeat(rt, 1)
    assert beat and beat.lineage == payloads[0]["lineage"] and beat.generation == -1
    # A second schedule event (at-least-once delivery) restarts nothing: no ratchet.
    assert coordinator.run_schedule(cfg, clock=lambda: now + 1)["restarted"] == []
    # The restarted chain's first generation starts normally.
    started = coordinator.run_generation(cfg, payloads[0], FakeContext(), sleep=lambda _: None)
    assert started["continued"]


def test_schedule_without_work_restarts_nothing_and_reads_only_what_it_must(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    cfg = setup(rt, concurrency=2, min_interval=10)
    now = 1_000_000.0
    coordinator.write_heartbeat(APP, 0, chains.Heartbeat("A", 5, now - 500, "x"))
    coordinator.write_heartbeat(APP, 1, chains.Heartbeat("A", 9, now - 5, "x", idle=True))
    # Every chain down, nothing queued: one GetParameters and one queue read per component
    # (once the queue URLs are known: a warm container looks each up once).
    coordinator.run_schedule(cfg, clock=lambda: now)
    idle = coordinator.run_schedule(cfg, clock=lambda: now)
    assert (idle["restarted"], idle["down"], idle["work"]) == ([], [0, 1], False)
    assert idle["calls"] == {"sqs": 2, "ssm": 1}
    # Every chain running: the heartbeats alone answer.
    for chain in (0, 1):
        coordinator.write_heartbeat(APP, chain, chains.Heartbeat("A", 5, now - 5, "x", now))
    running = coordinator.run_schedule(cfg, clock=lambda: now)
    assert (running["restarted"], running["down"], running["calls"]) == ([], [], {"ssm": 1})
    # Paused: down chains stay down even with work (resume's next tick wakes them).
    fill(rt, "a", 3)
    pause(rt, control.PAUSED)
    paused = coordinator.run_schedule(cfg, clock=lambda: now + 100)
    assert (paused["restarted"], paused["calls"]) == ([], {"ssm": 1})
    assert lambda_stub.calls == []
    # idle_after 0 (chains never stop): a stale chain is restarted, work or not, as before.
    pause(rt, control.RUNNING)
    rt.sqs.purge_queue(QueueUrl=rt.url(names.queue_name(APP, "a")))
    never = setup(rt, concurrency=1, min_interval=10, idle_after=0)
    assert coordinator.run_schedule(never, clock=lambda: now + 100)["restarted"] == [0]


def test_a_fresh_deployment_starts_its_chains_without_work(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    """No heartbeat yet: the first tick starts the chain (it stops after idle_after), so a
    message sent just after a deploy does not wait for a later tick."""
    cfg = setup(rt, concurrency=1, min_interval=10)
    started = coordinator.run_schedule(cfg, clock=lambda: 1_000_000.0)
    assert (started["restarted"], started["work"], started["calls"].get("sqs", 0)) == (
        [0], False, 0)
    assert lambda_stub.functions() == ["t-coordinator"]


def test_idle_chain_stops_and_the_schedule_wakes_it_when_a_message_comes(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    cfg = setup(rt, min_interval=10, idle_after=60)
    t0 = 1_000_000.0
    first = {"chain": 0, "generation": 1, "lineage": chains.new_lineage(t0)}

    def generation(event: dict[str, Any], at: float) -> dict[str, Any]:
        context = FakeContext(function="t-coordinator")
        return coordinator.run_generation(cfg, event, context, clock=lambda: at,
                                          sleep=lambda _: None)

    # Empty queues, but idle_after has not passed since the lineage started: it goes on.
    assert generation(first, t0)["continued"]
    second = lambda_stub.calls[-1].payload
    assert second["generation"] == 2
    # A message received and still being handled (not visible) is work: no stop.
    fill(rt, "b", 1)
    rt.sqs.receive_message(QueueUrl=rt.url(names.queue_name(APP, "b")), VisibilityTimeout=60)
    assert generation(second, t0 + 61)["continued"]
    rt.sqs.purge_queue(QueueUrl=rt.url(names.queue_name(APP, "b")))
    third = lambda_stub.calls[-1].payload
    lambda_stub.calls.clear()
    # Past idle_after with nothing anywhere: an idle heartbeat, no next generation.
    stopped = generation(third, t0 + 61 + 60)
    assert not stopped["continued"] and stopped["reason"] == "nothing to do for 60 s"
    assert lambda_stub.calls == []
    beat = heartbeat(rt, 0)
    assert beat and beat.idle and beat.generation == 3 and beat.last_busy == t0 + 61
    assert chains.state(beat, t0 + 200, cfg.coordinator.min_interval) == "idle"
    # The schedule's cheap check: nothing queued, so the chain stays down.
    quiet = coordinator.run_schedule(cfg, clock=lambda: t0 + 200)
    assert (quiet["down"], quiet["restarted"]) == ([0], [])
    assert lambda_stub.calls == []
    # A message comes: the next tick starts a new lineage, whose first generation dispatches.
    rt.send("a", {"page": 1})
    assert coordinator.run_schedule(cfg, clock=lambda: t0 + 260)["restarted"] == [0]
    (woken,) = [c.payload for c in lambda_stub.calls]
    assert woken["generation"] == 0 and woken["lineage"] > first["lineage"]
    lambda_stub.calls.clear()
    result = generation(woken, t0 + 261)
    assert result["continued"] and result["planned"] == {"a": 1}
    assert lambda_stub.functions() == ["t-a", "t-coordinator"]
    # A late duplicate of the idle lineage's last generation finds the newer lineage.
    assert not generation(third, t0 + 262)["continued"]


def test_native_components_are_left_to_their_mapping(rt: Runtime) -> None:
    cfg = config(
        "coordinator",
        mc("a", max_concurrency=5, batch_size=10),
        mc("n", max_concurrency=2, batch_size=10, dispatch=NATIVE),
    )
    rt.use_config(cfg)
    for component in cfg.components.values():
        rt.create_queues(component)
    fill(rt, "n", 30)
    status = coordinator.read_status(cfg)
    assert status == {"a": Status(0, 0, 0)}  # no calls for n's queue or leases
    assert not planning.has_work(status, cfg)  # n's backlog is its mapping's
    assert planning.plan({**status, "n": Status(30, 0)}, cfg, 0, 1) == {}


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
    assert json.loads(json.dumps(planning.plan(coordinator.read_status(cfg), cfg, 0, 1))) == {
        "b": 2
    }


def test_an_input_from_outside_is_started_during_the_wait_not_at_the_next_generation(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    cfg = setup(rt, min_interval=3, entry_watch=1)
    looks = []

    def sleep(seconds: float) -> None:  # a producer sends while the generation waits
        looks.append(seconds)
        if len(looks) == 1:
            fill(rt, "a", 5)

    result = coordinator.run_generation(cfg, generation_event(), FakeContext(), sleep=sleep)
    assert result["planned"] == {} and result["entry_watch"] == {"a": 1}
    assert lambda_stub.functions() == ["t-a", "t-coordinator"]
    assert lambda_stub.calls[0].payload["source"] == "coordinator"
    assert inflight.count(APP, "a") == 1  # started with a lease, like a generation's start
    # the start is followed up soon (more inputs may be arriving), then the usual interval
    assert looks[:2] == [1.0, planning.WATCH_FOLLOW_UP_S] and 3 <= len(looks) <= 4
    assert 1.25 < sum(looks) <= 3  # the rest of min_interval after the generation's own work


def test_no_entry_watch_when_it_is_off(rt: Runtime, lambda_stub: LambdaStub) -> None:
    cfg = setup(rt, min_interval=3, entry_watch=0)
    looks = []

    def sleep(seconds: float) -> None:
        looks.append(seconds)
        fill(rt, "a", 1)

    result = coordinator.run_generation(cfg, generation_event(), FakeContext(), sleep=sleep)
    assert "entry_watch" not in result and len(looks) == 1
    assert lambda_stub.functions() == ["t-coordinator"]


def test_a_generation_seeds_the_lease_pools_of_pushed_components_once(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    from lambda_complex.runtime.config import Routing

    cfg = config(
        "coordinator",
        mc("a", routing=Routing(components=("b",))),
        mc("b", max_concurrency=3),
        coordinator=CoordinatorConfig(concurrency=1, min_interval=0),
    )
    rt.use_config(cfg)
    for component in cfg.components.values():
        rt.create_queues(component)
    lease_url = rt.url(names.inflight_queue_name(APP, "b"))

    def tokens() -> int:
        attributes = rt.sqs.get_queue_attributes(
            QueueUrl=lease_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    first = coordinator.run_generation(cfg, generation_event(), FakeContext(), sleep=lambda _: None)
    assert tokens() == 3  # b's limit: the first push finds its free slots
    # a is fed from outside only: nobody pushes it, its pool fills when it is first started.
    assert rt.sqs.get_queue_attributes(
        QueueUrl=rt.url(names.inflight_queue_name(APP, "a")),
        AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"] == "0"
    second = coordinator.run_generation(cfg, generation_event(generation=2), FakeContext(),
                                        sleep=lambda _: None)
    assert tokens() == 3
    assert second["calls"]["sqs"] < first["calls"]["sqs"]  # seeded once per container
