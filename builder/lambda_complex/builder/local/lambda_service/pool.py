"""One function's instances, concurrency cap and asynchronous queue.

Lambda's rules, kept here: reserved concurrency caps executions (a synchronous call beyond it is
refused, the caller answers 429; an `Event` waits in the queue until a slot frees, never lost);
an asynchronous execution that fails (error, timeout, crash) is retried (twice, unless the
function's `max_retry_attempts` says less), then handed to the on-failure destination; an event
stopped as recursive goes there at once; idle instances are reused, newest first, and stopped
after a while, or once their role credentials are due for renewal; a timed-out or crashed
instance is never reused.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from lambda_complex.builder.local.lambda_service import start_failures
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.builder.local.lambda_service.instances import Instance, Launcher, error_body
from lambda_complex.builder.local.lambda_service.loop_detection import STOPPED
from lambda_complex.builder.local.lambda_service.runtime_api import Invocation

log = logging.getLogger(__name__)


class Host(Protocol):
    """What a pool needs from the service that owns it."""

    launcher: Launcher
    log_dir: Path
    retry_delays: tuple[float, ...]
    default_concurrency: int
    init_timeout: float

    def instance_environment(self, fn: FunctionDefinition, instance: str) -> dict[str, str]: ...

    def credentials_renew_at(self, fn: FunctionDefinition) -> float: ...

    def send_to_destination(
        self,
        fn: FunctionDefinition,
        request_id: str,
        payload: bytes,
        inv: Invocation,
        attempts: int,
    ) -> bool: ...


@dataclass
class FunctionStats:
    """What happened to one function; `lcbuild local run` reports it."""

    invocations: int = 0  # executions started; each asynchronous retry counts, as in Lambda
    errors: int = 0  # executions that failed: function error, timeout, crash, out of memory
    timeouts: int = 0
    throttles: int = 0  # synchronous calls refused with 429
    async_accepted: int = 0  # `Event` invocations accepted (202)
    retries: int = 0
    dead_lettered: int = 0  # destination records sent to the on-failure queue
    dropped: int = 0  # failed events with no destination, or whose record could not be sent
    recursion_stopped: int = 0  # invocations stopped by recursive loop detection
    cold_starts: int = 0
    concurrency: int = 0  # executions running now
    max_concurrency_observed: int = 0
    queued: int = 0  # asynchronous events waiting for a slot or for their retry
    # Asynchronous events not yet finished (succeeded, dead-lettered or dropped).
    async_in_flight: int = 0


@dataclass
class _Event:
    request_id: str
    payload: bytes
    trace_id: str = ""
    attempts: int = 0


class FunctionPool:
    """Instances, the concurrency cap and the asynchronous queue of one function."""

    def __init__(self, fn: FunctionDefinition, service: Host) -> None:
        self.fn = fn
        self.service = service
        self.limit = self._limit_of(fn)
        self.stats = FunctionStats()
        self.work_dir = service.log_dir / fn.name
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition()
        self._idle: list[Instance] = []
        self._instances: set[Instance] = set()
        self._queue: deque[_Event] = deque()
        self._waiting_retries = 0
        self._closed = False
        self._numbers = itertools.count(1)
        # Set when an execution ended before the handler ran: the function cannot start.
        self.start_failure: start_failures.StartFailure | None = None
        threading.Thread(target=self._dispatch, name=f"async-{fn.name}", daemon=True).start()

    def _limit_of(self, fn: FunctionDefinition) -> int:
        if fn.reserved_concurrency is not None:
            return fn.reserved_concurrency
        return self.service.default_concurrency

    def redefine(self, fn: FunctionDefinition) -> None:
        """A redeploy: new executions get instances of `fn`; the queue and the counts stay (no
        event is lost); idle instances stop now, busy ones when their execution ends. The same
        definition again changes nothing: its warm instances stay warm."""
        with self._cond:
            if fn == self.fn:
                return
            self.fn, self.limit = fn, self._limit_of(fn)
            self.start_failure = None  # new code: it may start
            idle, self._idle = self._idle, []
            self._instances.difference_update(idle)
            self._cond.notify_all()
        for instance in idle:
            instance.stop()

    # Concurrency slots.
    def try_acquire(self) -> bool:
        with self._cond:
            if self.stats.concurrency >= self.limit:
                self.stats.throttles += 1
                return False
            self._take_slot()
            return True

    def _take_slot(self) -> None:
        self.stats.concurrency += 1
        self.stats.max_concurrency_observed = max(
            self.stats.max_concurrency_observed, self.stats.concurrency
        )

    def release(self) -> None:
        with self._cond:
            self.stats.concurrency -= 1
            self._cond.notify_all()

    # Executions (the caller holds a slot).
    def execute(
        self,
        request_id: str,
        payload: bytes,
        client_context: str | None = None,
        trace_id: str = "",
    ) -> tuple[Invocation, bytes]:
        inv = Invocation(
            request_id=request_id,
            payload=payload,
            function_arn=self.fn.arn,
            timeout=float(self.fn.timeout),
            trace_id=trace_id or f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
            client_context=client_context,
        )
        with self._cond:
            self.stats.invocations += 1
        tail = b""
        log_path: Path | None = None
        instance: Instance | None = None
        try:
            instance = self._checkout(inv)
            if instance is not None:
                log_path = instance.log_path
                try:
                    tail = instance.run(inv, self.service.init_timeout)
                finally:
                    self._checkin(instance)
        except Exception as e:  # our fault, not the function's: still an answer, never a hang
            log.exception("%s: execution %s failed in the service", self.fn.name, request_id)
            inv.finish(error_body("Runtime.Unknown", request_id, repr(e)), "Runtime.Unknown")
        with self._cond:
            if inv.error_type is not None:
                self.stats.errors += 1
            if inv.error_type == "Sandbox.Timedout":
                self.stats.timeouts += 1
            # An instance the service killed itself (kill_busy) says nothing about the function.
            killed = instance is not None and instance.killed
            failure = None if killed else start_failures.of_execution(self.fn.name, inv, log_path)
            if failure is not None and not self._closed:
                self.start_failure = failure
        return inv, tail

    def _checkout(self, inv: Invocation) -> Instance | None:
        with self._cond:
            if self._closed:  # shutting down (or redefined): start nothing new
                message = "the function is shutting down"
                inv.finish(
                    error_body("Runtime.StartError", inv.request_id, message), "Runtime.StartError"
                )
                return None
            now, stale = time.monotonic(), []
            while self._idle:
                warmest = self._idle.pop()  # the most recently used
                if now < warmest.renew_at:
                    break
                stale.append(warmest)  # its credentials are due: a new instance gets fresh ones
            else:
                warmest = None
            self._instances.difference_update(stale)
            if warmest is None:
                number = next(self._numbers)
                self.stats.cold_starts += 1
        for instance in stale:
            instance.stop()
        if warmest is not None:
            return warmest
        name = f"{number:04d}-{uuid.uuid4().hex[:8]}"
        instance = Instance(self.fn, name, self.work_dir / f"{name}.log")
        try:
            instance.renew_at = self.service.credentials_renew_at(self.fn)
            instance.handle = self.service.launcher.start(
                self.fn,
                instance.api.address,
                self.service.instance_environment(self.fn, name),
                self.work_dir,
                instance.log_path,
            )
        except Exception as e:  # a start failure is the execution's failure, as in Lambda
            log.exception("cannot start an instance of %s", self.fn.name)
            instance.stop()
            inv.finish(
                error_body("Runtime.StartError", inv.request_id, str(e)), "Runtime.StartError"
            )
            return None
        with self._cond:
            self._instances.add(instance)
        return instance

    def _checkin(self, instance: Instance) -> None:
        with self._cond:
            if not instance.lost and not self._closed and instance.fn is self.fn:
                self._idle.append(instance)
                return
            self._instances.discard(instance)
        instance.stop()

    def reap_idle(self, idle_timeout: float) -> None:
        now = time.monotonic()
        with self._cond:
            stale = [i for i in self._idle if now - i.last_used >= idle_timeout]
            self._idle = [i for i in self._idle if i not in stale]
            self._instances.difference_update(stale)
        for instance in stale:
            instance.stop()

    def kill_busy(self) -> int:
        """Kill the instances running an execution now (fault tests: a worker dies mid-invocation).
        Each such execution ends in `Runtime.ExitError`, like a crash."""
        with self._cond:
            busy = [i for i in self._instances if i not in self._idle and i.handle is not None]
        for instance in busy:
            assert instance.handle is not None
            instance.killed = True
            instance.handle.kill()
        return len(busy)

    # Asynchronous invocations.
    def submit_async(self, payload: bytes, trace_id: str = "") -> str:
        event = _Event(str(uuid.uuid4()), payload, trace_id)
        with self._cond:
            self.stats.async_accepted += 1
            self.stats.async_in_flight += 1
            self._enqueue(event)
        return event.request_id

    def _enqueue(self, event: _Event) -> None:
        self._queue.append(event)
        self._count_queued()
        self._cond.notify_all()

    def _count_queued(self) -> None:
        self.stats.queued = len(self._queue) + self._waiting_retries

    def _dispatch(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(
                    lambda: (
                        self._closed or (bool(self._queue) and self.stats.concurrency < self.limit)
                    )
                )
                if self._closed:
                    return
                event = self._queue.popleft()
                self._count_queued()
                self._take_slot()
            threading.Thread(target=self._run_async, args=(event,), daemon=True).start()

    def _run_async(self, event: _Event) -> None:
        try:
            inv, _ = self.execute(event.request_id, event.payload, trace_id=event.trace_id)
        finally:
            self.release()
        if self._closed:  # the service stopped it: the run is over, not the event's failure
            return
        event.attempts += 1
        if inv.error_type is not None and event.attempts <= self.fn.max_retry_attempts:
            delays = self.service.retry_delays
            delay = delays[min(event.attempts - 1, len(delays) - 1)]
            with self._cond:
                self.stats.retries += 1
                self._waiting_retries += 1
                self._count_queued()
            timer = threading.Timer(delay, self._retry, args=(event,))
            timer.daemon = True
            timer.start()
            return
        if inv.error_type is not None:
            sent = self.service.send_to_destination(
                self.fn, event.request_id, event.payload, inv, event.attempts
            )
            with self._cond:
                if sent:
                    self.stats.dead_lettered += 1
                else:
                    self.stats.dropped += 1
        with self._cond:
            self.stats.async_in_flight -= 1
            self._cond.notify_all()

    def stop_recursive(self, payload: bytes, reason: str, event: bool = True) -> str:
        """An invocation that recursive loop detection stops, never run: an `Event` is accepted
        and handed to the on-failure destination (or dropped without one). Its request id."""
        request_id = str(uuid.uuid4())
        inv = Invocation(request_id, payload, self.fn.arn, float(self.fn.timeout))
        inv.finish(error_body(STOPPED, request_id, reason), STOPPED)
        sent = event and self.service.send_to_destination(self.fn, request_id, payload, inv, 0)
        with self._cond:
            self.stats.recursion_stopped += 1
            if event:
                self.stats.async_accepted += 1
                self.stats.dead_lettered += sent
                self.stats.dropped += not sent
        return request_id

    def _retry(self, event: _Event) -> None:
        with self._cond:
            self._waiting_retries -= 1
            if self._closed:
                return
            self._enqueue(event)

    def snapshot(self) -> dict[str, int]:
        """The stats, and `instances`: the live instances, busy or idle, counted now."""
        with self._cond:
            return {**asdict(self.stats), "instances": len(self._instances)}

    def is_idle(self) -> bool:
        with self._cond:
            return self.stats.concurrency == 0 and self.stats.async_in_flight == 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            instances = list(self._instances)
            self._idle.clear()
        for instance in instances:
            instance.stop()


def destination_record(
    fn: FunctionDefinition, request_id: str, payload: bytes, inv: Invocation, attempts: int
) -> dict[str, Any]:
    def parsed(data: bytes) -> Any:
        try:
            return json.loads(data)
        except ValueError:
            return data.decode("utf-8", "replace")

    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{fn.arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": parsed(payload),
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": parsed(inv.result),
    }
