"""The coordinator (CMD `lambda_complex.runtime.coordinator.handler`): starts message components
without exceeding their concurrency limits.

What to start is decided by `planning`, whether a chain carries on by `chains` (both pure).
This is the I/O edge: it reads backlogs and in-flight counts (at most max_api_concurrency calls
at once), the pause switch and the chain heartbeat, dispatches through `invoker.fan_out`, waits
out min_interval watching the entry queues (`coordinator.entry_watch`), then re-invokes the
chain's next generation, or ends the chain when the application has been idle for `idle_after`.
Events
(`protocol`): a chain event runs one generation; anything else (the every-minute schedule input)
restarts chains that are down (stale, or idle while work has come).

Components with `dispatch: native` are not the coordinator's: Lambda's SQS event source mapping
polls their queues and starts them, so neither the plan, the status reads nor the idle decision
look at them. Every log line a coordinator invocation ends with carries `calls`, the AWS calls
it made per service (what an idle application costs, `bench/idle.py`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from . import chains, control, inflight, invoker, log, names, resources
from . import config as config_mod
from .config import RuntimeConfig
from .planning import (
    Status,
    coordinated,
    entry_components,
    has_work,
    plan,
    pushed_components,
    watch_plan,
    watch_step,
)
from .protocol import ChainEvent, is_chain_event

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# Time kept free at the end of a generation for the heartbeat check and the self-invoke.
END_MARGIN_S = 5.0
START_ATTEMPTS = 3  # of the next generation's Invoke


_QUEUE_COUNTS: tuple[QueueAttributeNameType, ...] = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def _queue_counts(app: str, component: str) -> tuple[int, int]:
    """(backlog, held) of a component's input queue, in one call."""
    url = resources.queue_url(names.queue_name(app, component))
    attributes = resources.sqs().get_queue_attributes(
        QueueUrl=url, AttributeNames=list(_QUEUE_COUNTS)
    )["Attributes"]
    visible, not_visible, delayed = (int(attributes.get(a, 0)) for a in _QUEUE_COUNTS)
    return visible, not_visible + delayed


def read_status(
    config: RuntimeConfig, components: list[str] | None = None
) -> dict[str, Status]:
    """Backlog and held messages of every coordinated component (or of `components`); in-flight
    only where there is backlog (saves calls). A component whose counts could not be read is
    left out."""
    components = coordinated(config) if components is None else components
    workers = max(1, min(config.coordinator.max_api_concurrency, len(components) or 1))

    def safe(fn: Callable[[str, str], Any], name: str) -> Any:
        try:
            return fn(config.app, name)
        except Exception as e:  # a missing queue must not stop the other components
            if resources.is_missing_queue(e):
                resources.forget_queue_url(names.queue_name(config.app, name))
                resources.forget_queue_url(names.inflight_queue_name(config.app, name))
            log.emit("status_failed", component=name, error=str(e))
            return None

    with ThreadPoolExecutor(max_workers=workers) as pool:
        queue_list = list(pool.map(lambda n: safe(_queue_counts, n), components))
        queues: dict[str, tuple[int, int] | None] = dict(zip(components, queue_list, strict=True))
        busy = [n for n in components if (q := queues[n]) is not None and q[0]]
        counts = list(pool.map(lambda n: safe(inflight.count, n), busy))
        in_flight = dict(zip(busy, counts, strict=True))
    status: dict[str, Status] = {}
    for name in components:
        found = queues[name]
        if found is None:
            continue
        count = in_flight.get(name, 0)
        if count is not None:
            status[name] = Status(found[0], count, found[1])
    return status


class CallCounter:
    """AWS calls made through this container's clients, per service: botocore's `before-call`
    event fires once per API call (its retries not counted again)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def watch(self, *clients: Any) -> None:
        """Count the calls of these clients (again for the same client: no effect)."""
        for client in clients:
            client.meta.events.register("before-call", self._count, unique_id="lc-call-count")

    def _count(self, model: Any, **_: Any) -> None:
        with self._lock:
            self._counts[str(model.service_model.service_name)] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def since(self, before: Counter[str]) -> dict[str, int]:
        return dict(sorted((self.snapshot() - before).items()))


calls = CallCounter()


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
    """One generation: read the status (unless paused), write the heartbeat, dispatch, then
    either end the chain (idle for idle_after) or sleep out min_interval and invoke the next.
    The heartbeat is written after the status read so that it carries `last_busy`: one
    PutParameter per generation, as before."""
    before = _counting()
    chain, generation, lineage = ChainEvent.from_event(event)
    coordinator = config.coordinator
    started = clock()
    control_name = names.control_parameter_name(config.app)
    chain_name = names.chain_parameter_name(config.app, chain)
    values = read_parameters([control_name, chain_name])
    previous = chains.Heartbeat.parse(values.get(chain_name))
    begin, why = chains.should_start(chain, lineage, generation, previous, coordinator.concurrency)
    summary: dict[str, Any] = {"chain": chain, "generation": generation, "lineage": lineage}
    if not begin:
        return _end(summary, before, continued=False, reason=why, event="chain_exit")
    last_busy = chains.last_busy_before(previous, lineage, started)
    paused = control.value_means_paused(values.get(control_name))
    status: dict[str, Status] | None = None
    if not paused:
        try:
            status = read_status(config)
        except Exception as e:  # a transient fault costs this generation's dispatch, not the chain
            _failed(summary, e)
    # Busy now? Nothing is read while paused: a paused application counts as idle.
    if status is not None and has_work(status, config):
        last_busy = started
    mine = chains.Heartbeat(lineage, generation, started, str(context.aws_request_id), last_busy)
    write_heartbeat(config.app, chain, mine)
    counts: dict[str, int] = {}
    if status is not None:
        _seed_pools(config)
        try:
            counts = plan(status, config, chain, coordinator.concurrency)
            summary["dispatch"] = invoker.fan_out(config, sorted(counts.items()))
        except Exception as e:
            _failed(summary, e)
    summary.update(paused=paused, planned=counts)

    idle = chains.goes_idle(last_busy, clock(), coordinator.idle_after)
    if not idle:
        remaining = context.get_remaining_time_in_millis() / 1000 - END_MARGIN_S
        wait = chains.sleep_before_next(started, clock(), coordinator.min_interval, remaining)
        watched = _wait_watching(config, chain, wait, sleep, paused, counts)
        if watched:
            summary["entry_watch"] = watched
    current = chains.Heartbeat.parse(read_parameters([chain_name]).get(chain_name))
    if not chains.still_owner(mine, current):
        return _end(summary, before, continued=False, reason="another instance owns the chain",
                    event="chain_exit")
    if idle:
        write_heartbeat(config.app, chain, mine._replace(timestamp=clock(), idle=True))
        return _end(summary, before, continued=False, event="chain_idle",
                    reason=f"nothing to do for {coordinator.idle_after} s")
    _continue_chain(config.app, chain, generation + 1, lineage, sleep)
    return _end(summary, before, continued=True, event="chain_generation")


# Lease pools this container has seeded (a pool recreated by a deploy comes with a new image
# version, so with new containers): one GetQueueAttributes per pushed component per container.
_seeded: set[tuple[str, str]] = set()


def _seed_pools(config: RuntimeConfig) -> None:
    for name in pushed_components(config):
        key = (config.version, name)
        if key in _seeded:
            continue
        try:
            added = inflight.seed(config.app, name, config.components[name].max_concurrency)
        except Exception as e:  # the next generation tries again; `take` tops up meanwhile
            log.emit("lease_seed_failed", component=name, error=f"{type(e).__name__}: {e}")
            continue
        _seeded.add(key)
        if added:
            log.emit("leases_seeded", component=name, added=added)


def _wait_watching(
    config: RuntimeConfig, chain: int, wait_s: float, sleep: Callable[[float], None], paused: bool,
    planned: Mapping[str, int],
) -> dict[str, int]:
    """Sleep out the wait between generations; meanwhile chain 0 looks at the entry queues every
    `entry_watch` seconds, and sooner after a start (`watch_step`), one GetQueueAttributes each,
    and starts what finds backlog and a free slot, so an input from outside waits about
    entry_watch / 2 instead of min_interval / 2. The exact lease pool keeps these starts within
    the limit, as the generation's own (`planned`: its starts, of which an entry component's
    count as a start for `watch_step`). Returns the invocations started, per component."""
    entries = entry_components(config) if chain == 0 and not paused else []
    interval = config.coordinator.entry_watch if entries else 0
    started: dict[str, int] = {}
    arriving = any(name in planned for name in entries)
    left = wait_s
    while left > 0:
        step, look = watch_step(left, interval, arriving)
        sleep(step)
        left -= step
        if not look:
            break
        counts: dict[str, int] = {}
        try:
            counts = watch_plan(read_status(config, entries), config)
            if counts:
                invoker.fan_out(config, sorted(counts.items()))
                for name, n in counts.items():
                    started[name] = started.get(name, 0) + n
        except Exception as e:  # the next generation reads and dispatches anyway
            log.emit("entry_watch_failed", error=f"{type(e).__name__}: {e}")
        arriving = bool(counts)
    return started


def _failed(summary: dict[str, Any], error: Exception) -> None:
    summary["error"] = f"{type(error).__name__}: {error}"
    log.emit("generation_failed", **summary)


def _counting() -> Counter[str]:
    """Start counting an invocation's calls: the counts to take the difference from."""
    calls.watch(resources.ssm(), resources.sqs(), resources.lambda_client())
    return calls.snapshot()


def _end(
    summary: dict[str, Any], before: Counter[str], *, continued: bool, event: str, reason: str = ""
) -> dict[str, Any]:
    """The invocation's last log line, which is also its result."""
    result = {**summary, "continued": continued, **({"reason": reason} if reason else {})}
    result["calls"] = calls.since(before)
    log.emit(event, **result)
    return result


def run_schedule(config: RuntimeConfig, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Restart chains that are down (`chains.chains_to_restart`) when there is work
    (`chains.chains_to_wake`). Heartbeats and the pause switch come in one GetParameters; the
    queues are read only when a chain is down, so with every chain running, or idle with
    nothing to do, the schedule costs that one call (and one status read per coordinated
    component when a chain is down). The new lineage's heartbeat is written first, so a second
    schedule event (EventBridge delivers at least once) sees it fresh."""
    before = _counting()
    now = clock()
    coordinator = config.coordinator
    concurrency = coordinator.concurrency
    parameter = {i: names.chain_parameter_name(config.app, i) for i in range(concurrency)}
    control_name = names.control_parameter_name(config.app)
    values = read_parameters([control_name, *parameter.values()])
    heartbeats = {i: chains.Heartbeat.parse(values.get(p)) for i, p in parameter.items()}
    stale_after = chains.stale_after_s(coordinator.min_interval)
    down = chains.chains_to_restart(heartbeats, concurrency, now, stale_after)
    paused = control.value_means_paused(values.get(control_name))
    work = False
    if chains.work_check_needed(heartbeats, down, coordinator.idle_after, paused):
        work = has_work(read_status(config), config)
    restart = chains.chains_to_wake(heartbeats, down, coordinator.idle_after, paused, work)
    for i in restart:
        lineage = chains.new_lineage(now)
        write_heartbeat(
            config.app, i, chains.Heartbeat(lineage, chains.SCHEDULED, now, "schedule", now)
        )
        start_chain(config.app, i, 0, lineage)
    result = {"restarted": restart, "down": down, "work": work, "calls": calls.since(before)}
    log.emit("schedule", **result)
    return result


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
    _seeded.clear()
    invoker.reset()
