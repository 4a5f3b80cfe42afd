"""The coordinator (CMD `lambda_complex.runtime.coordinator.handler`): starts message components
without exceeding their concurrency limits.

`plan` is pure. The I/O edge reads backlogs and in-flight counts (at most max_api_concurrency calls
at once), the pause switch and the chain heartbeat, dispatches through `invoker.fan_out`, then
re-invokes the chain's next generation. Events (`protocol`): a chain event runs one generation;
anything else (the every-minute schedule input) restarts chains whose heartbeat is stale.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from . import chains, control, inflight, invoker, log, names, resources
from . import config as config_mod
from .config import EVENT_FROM_MESSAGE, RuntimeConfig
from .protocol import ChainEvent, is_chain_event

# Time kept free at the end of a generation for the heartbeat check and the self-invoke.
END_MARGIN_S = 5.0
START_ATTEMPTS = 3  # of the next generation's Invoke


class Status(NamedTuple):
    backlog: int  # visible messages in the input queue
    in_flight: int  # running invocations (lease queue)


def share(free: int, chain: int, chains_count: int) -> int:
    """Chain `chain`'s part of `free`: parts sum to `free` exactly over all chains."""
    return free // chains_count + (1 if chain < free % chains_count else 0)


def plan(
    status: Mapping[str, Status], config: RuntimeConfig, chain: int, chains_count: int
) -> dict[str, int]:
    """Invocations per component for this chain. Never more than the chain's share of
    min(max_concurrency - in_flight, ceil(backlog / batch_size)): split that way, all chains
    together never exceed the free slots (shares rounded up each would overshoot them)."""
    counts: dict[str, int] = {}
    if not 0 <= chain < chains_count:
        return counts
    for name, component in sorted(config.components.items()):
        current = status.get(name)
        if component.type != EVENT_FROM_MESSAGE or current is None:
            continue
        free = max(0, component.max_concurrency - current.in_flight)
        wanted = math.ceil(max(0, current.backlog) / max(1, component.batch_size))
        n = share(min(free, wanted), chain, chains_count)
        if n > 0:
            counts[name] = n
    return counts


def _backlog(app: str, component: str) -> int:
    url = resources.queue_url(names.queue_name(app, component))
    attributes = resources.sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


def read_status(config: RuntimeConfig) -> dict[str, Status]:
    """Backlog of every message component; in-flight only where there is backlog (saves calls)."""
    components = sorted(n for n, c in config.components.items() if c.type == EVENT_FROM_MESSAGE)
    workers = max(1, min(config.coordinator.max_api_concurrency, len(components) or 1))

    def safe(fn: Callable[[str, str], int], name: str) -> int | None:
        try:
            return fn(config.app, name)
        except Exception as e:  # a missing queue must not stop the other components
            if resources.is_missing_queue(e):
                resources.forget_queue_url(names.queue_name(config.app, name))
                resources.forget_queue_url(names.inflight_queue_name(config.app, name))
            log.emit("status_failed", component=name, error=str(e))
            return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        backlog_list = list(pool.map(lambda n: safe(_backlog, n), components))
        backlogs = dict(zip(components, backlog_list, strict=True))
        busy = [n for n in components if backlogs[n]]
        counts = list(pool.map(lambda n: safe(inflight.count, n), busy))
        in_flight = dict(zip(busy, counts, strict=True))
    status: dict[str, Status] = {}
    for name in components:
        backlog = backlogs[name]
        if backlog is None:
            continue
        count = in_flight.get(name, 0)
        if count is not None:
            status[name] = Status(backlog, count)
    return status


def read_parameters(parameter_names: list[str]) -> dict[str, str]:
    """Values of the parameters that exist (GetParameters: 10 names per call)."""
    values: dict[str, str] = {}
    for i in range(0, len(parameter_names), 10):
        response = resources.ssm().get_parameters(Names=parameter_names[i : i + 10])
        values.update({p["Name"]: p["Value"] for p in response.get("Parameters", [])})
    return values


def write_heartbeat(app: str, chain: int, heartbeat: chains.Heartbeat) -> None:
    resources.ssm().put_parameter(
        Name=names.chain_parameter_name(app, chain),
        Value=heartbeat.to_json(),
        Type="String",
        Overwrite=True,
    )


def start_chain(app: str, chain: int, generation: int, lineage: str) -> None:
    resources.lambda_client().invoke(
        FunctionName=names.function_name(app, names.COORDINATOR),
        InvocationType="Event",
        Payload=json.dumps(ChainEvent(chain, generation, lineage).to_dict()).encode(),
    )


def _continue_chain(
    app: str, chain: int, generation: int, lineage: str, sleep: Callable[[float], None]
) -> None:
    """Invoke the next generation, retrying a transient refusal (throttling, a network fault):
    the chain must not end on one failed call. botocore's own retries come first."""
    for attempt in range(START_ATTEMPTS):
        try:
            start_chain(app, chain, generation, lineage)
            return
        except Exception as e:
            if attempt == START_ATTEMPTS - 1:
                raise  # the schedule replaces the chain (chains.replaced_within_s)
            log.emit("chain_continue_failed", chain=chain, error=str(e), attempt=attempt + 1)
            sleep(0.5 * 2**attempt)


def run_generation(
    config: RuntimeConfig,
    event: Mapping[str, Any],
    context: Any,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    chain, generation, lineage = ChainEvent.from_event(event)
    coordinator = config.coordinator
    started = clock()
    control_name = names.control_parameter_name(config.app)
    chain_name = names.chain_parameter_name(config.app, chain)
    values = read_parameters([control_name, chain_name])
    begin, why = chains.should_start(
        chain,
        lineage,
        generation,
        chains.Heartbeat.parse(values.get(chain_name)),
        coordinator.concurrency,
    )
    summary: dict[str, Any] = {"chain": chain, "generation": generation, "lineage": lineage}
    if not begin:
        log.emit("chain_exit", reason=why, **summary)
        return {**summary, "continued": False, "reason": why}
    mine = chains.Heartbeat(lineage, generation, started, str(context.aws_request_id))
    write_heartbeat(config.app, chain, mine)

    paused = control.value_means_paused(values.get(control_name))
    counts: dict[str, int] = {}
    if not paused:
        try:
            counts = plan(read_status(config), config, chain, coordinator.concurrency)
            summary["dispatch"] = invoker.fan_out(config, sorted(counts.items()))
        except Exception as e:  # a transient fault costs this generation's dispatch, not the chain
            summary["error"] = f"{type(e).__name__}: {e}"
            log.emit("generation_failed", **summary)
    summary.update(paused=paused, planned=counts)

    remaining = context.get_remaining_time_in_millis() / 1000 - END_MARGIN_S
    sleep(chains.sleep_before_next(started, clock(), coordinator.min_interval, remaining))
    current = chains.Heartbeat.parse(read_parameters([chain_name]).get(chain_name))
    if not chains.still_owner(mine, current):
        log.emit("chain_exit", reason="another instance owns the chain", **summary)
        return {**summary, "continued": False, "reason": "another instance owns the chain"}
    _continue_chain(config.app, chain, generation + 1, lineage, sleep)
    log.emit("chain_generation", **summary)
    return {**summary, "continued": True}


def run_schedule(config: RuntimeConfig, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Restart chains whose heartbeat is missing or stale. The new lineage's heartbeat is written
    first, so a second schedule event (EventBridge delivers at least once) sees it fresh."""
    now = clock()
    concurrency = config.coordinator.concurrency
    parameter = {i: names.chain_parameter_name(config.app, i) for i in range(concurrency)}
    values = read_parameters(list(parameter.values()))
    heartbeats = {i: chains.Heartbeat.parse(values.get(p)) for i, p in parameter.items()}
    stale_after = chains.stale_after_s(config.coordinator.min_interval)
    restart = chains.chains_to_restart(heartbeats, concurrency, now, stale_after)
    for i in restart:
        lineage = chains.new_lineage(now)
        write_heartbeat(config.app, i, chains.Heartbeat(lineage, chains.SCHEDULED, now, "schedule"))
        start_chain(config.app, i, 0, lineage)
    log.emit("schedule", restarted=restart)
    return {"restarted": restart}


_config: config_mod.RuntimeConfig | None = None


def handler(event: Any, context: Any) -> dict[str, Any]:
    global _config
    if _config is None:
        _config = config_mod.load()
    if is_chain_event(event):
        return run_generation(_config, event, context)
    return run_schedule(_config)


def reset() -> None:
    global _config
    _config = None
    invoker.reset()
