"""The pollers of the SQS event source mappings stored in the emulator: Lambda's side of a
mapping, run locally (the rules are `event_sources`).

`EventSources` re-reads the mappings every `refresh` seconds (ListEventSourceMappings) and keeps,
per mapping, as many pollers as `event_sources.pollers_for` allows: none while it is disabled or
invalid, `MaximumConcurrency` when set. Each poller gathers a batch with ReceiveMessage (the
queue's visibility timeout, every attribute), invokes the function synchronously with the SQS
event, and deletes what the outcome lets it delete (DeleteMessageBatch); what stays comes back
after the visibility timeout, and the emulator's redrive moves it to the dead-letter queue after
maxReceiveCount receives. As each poller has at most one invocation running, a mapping never has
more concurrent invocations than pollers. A poller told to stop (the mapping disabled, deleted or
scaled down) finishes the batch it holds.

moto would call the function itself inside SendMessage; the emulator's launcher
(`aws/emulator_server/serve.py`) stops that, so these pollers are the only consumers.

Lambda's pollers act as the function's execution role: its ReceiveMessage, DeleteMessage and
GetQueueAttributes grants on the queue are what let a mapping work
(https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, execution role permissions).
`as_execution_role` gives each mapping an SQS client with its function's role credentials, so
with IAM enforced a missing grant fails locally as it would on AWS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import boto3

from lambda_complex.builder.local.lambda_service import event_sources as rules
from lambda_complex.builder.local.lambda_service.event_sources import Gathering, SqsMapping

log = logging.getLogger(__name__)


class Invoked(NamedTuple):
    status: int  # the Invoke API's HTTP status
    body: bytes  # the function's response (or the API's error)
    function_error: str | None  # X-Amz-Function-Error: set when the function failed


Invoke = Callable[[str, bytes], Invoked]  # (function name, event JSON): a synchronous Invoke
SqsFor = Callable[[SqsMapping], Any]  # the SQS client a mapping's pollers call with
Ready = Callable[[str], bool]  # (function name): whether the function can be invoked yet


def through(service: Any) -> Invoke:
    """`Invoke` by the local Lambda service's in-process `invoke` (RequestResponse)."""

    def invoke(function: str, payload: bytes) -> Invoked:
        status, body, headers = service.invoke(function, payload)
        return Invoked(status, body, headers.get("X-Amz-Function-Error"))

    return invoke


def defined_in(service: Any) -> Ready:
    """`Ready`: the local Lambda service defines the function. On AWS a mapping never exists
    without its function (CreateEventSourceMapping names an existing one, and CloudFormation
    creates the function first,
    https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html); locally
    a redeploy's new mappings are in the emulator before the service runs their new functions.
    Polling then would receive every message of the queue, fail each invocation and leave the
    message out of sight for the visibility timeout at the cost of a receive (at
    maxReceiveCount, a dead letter never handled)."""

    def ready(function: str) -> bool:
        return service.pool(function) is not None

    return ready


def as_execution_role(
    service: Any, endpoint: str, region: str, default_env: Mapping[str, str]
) -> SqsFor:
    """SQS clients at `endpoint` that act as the execution role of each mapping's function, with
    the credentials the local Lambda service gives that function's instances. Where the service
    has none (IAM not enforced, or a function it does not define), `default_env`'s keys."""
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def sqs_for(mapping: SqsMapping) -> Any:
        pool = service.pool(mapping.function)
        fn = pool.fn if pool is not None else None
        env = default_env
        if fn is not None and fn.role and service.credentials is not None:
            env = service.credentials.for_role(fn.role, fn.name).environment
        key = env.get("AWS_ACCESS_KEY_ID", "")
        with lock:  # one client per session: renewed credentials get a new one
            if key not in clients:
                clients[key] = boto3.client(
                    "sqs", endpoint_url=endpoint, region_name=region,
                    aws_access_key_id=key,
                    aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", ""),
                    aws_session_token=env.get("AWS_SESSION_TOKEN"),
                )
            return clients[key]

    return sqs_for


def read_mappings(client: Any) -> list[SqsMapping]:
    """Every SQS event source mapping, from a boto3 Lambda client (the emulator's)."""
    found = []
    for page in client.get_paginator("list_event_source_mappings").paginate():
        for configuration in page.get("EventSourceMappings", []):
            mapping = rules.mapping_from(configuration)
            if mapping is not None:
                found.append(mapping)
    return found


class _Runner:
    """One mapping's pollers, its current configuration and its counters."""

    def __init__(self, owner: EventSources, mapping: SqsMapping) -> None:
        self.owner = owner
        self.mapping = mapping
        self.pollers: list[tuple[threading.Thread, threading.Event]] = []
        self.running = 0
        self.queue_url: str | None = None

    def resize(self, mapping: SqsMapping | None, wanted: int) -> None:
        if mapping is not None:
            self.mapping = mapping
        self.pollers = [(t, stop) for t, stop in self.pollers if t.is_alive()]
        live = [(t, stop) for t, stop in self.pollers if not stop.is_set()]
        for _, stop in live[wanted:]:
            stop.set()
        for _ in range(wanted - len(live)):
            stop = threading.Event()
            thread = threading.Thread(
                target=self.owner.poll, args=(self, stop), daemon=True,
                name=f"esm-{self.mapping.queue_name}",
            )
            self.pollers.append((thread, stop))
            thread.start()

    def stop_all(self) -> list[threading.Thread]:
        for _, stop in self.pollers:
            stop.set()
        return [t for t, _ in self.pollers]

    @contextlib.contextmanager
    def invoking(self) -> Iterator[None]:
        counts = self.owner.counts
        with self.owner.lock:
            self.running += 1
            key = f"{self.mapping.uuid}:max_concurrency_observed"
            counts[key] = max(counts[key], self.running)
        try:
            yield
        finally:
            with self.owner.lock:
                self.running -= 1


class EventSources:
    """`start()` the pollers of every SQS mapping in the emulator; `stats()`; `stop()`."""

    def __init__(
        self,
        lambda_client: Any,  # the emulator's Lambda API: the mappings
        sqs_client: Any,  # SQS (the testbed's tap, so that deletes are counted)
        invoke: Invoke,
        *,
        sqs_for: SqsFor | None = None,  # per mapping, instead of sqs_client: as_execution_role
        ready: Ready | None = None,  # no receive until the function is ready (`defined_in`)
        refresh: float = 2.0,  # seconds between readings of the mappings
        unset_limit: int = rules.STARTING_CONCURRENCY,  # pollers without MaximumConcurrency
        idle_wait: float = 1.0,  # long poll of an idle poller (short: it notices a stop soon)
    ) -> None:
        self.lambda_client, self.sqs, self.invoke = lambda_client, sqs_client, invoke
        self.sqs_for, self.ready = sqs_for, ready
        self.refresh, self.unset_limit, self.idle_wait = refresh, unset_limit, idle_wait
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.problems: dict[str, str] = {}  # mapping uuid -> why it does not poll
        self._runners: dict[str, _Runner] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._manage, name="event-sources", daemon=True)

    def start(self) -> EventSources:
        self.reload()
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        threads = [t for r in list(self._runners.values()) for t in r.stop_all()]
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> EventSources:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, dict[str, int]]:
        """Per mapping uuid: invocations, records, deleted, failed_batches (of which nothing
        was deleted), max_concurrency_observed; pollers polling now, and stopping (told to stop,
        finishing their receive or batch)."""
        with self.lock:
            found: dict[str, dict[str, int]] = {}
            for key, n in self.counts.items():
                uuid, name = key.split(":", 1)
                found.setdefault(uuid, {})[name] = n
            for uuid, runner in self._runners.items():
                alive = [stop.is_set() for thread, stop in runner.pollers if thread.is_alive()]
                found.setdefault(uuid, {}).update(
                    pollers=alive.count(False), stopping=alive.count(True))
        return found

    def by_function(self) -> dict[str, dict[str, int]]:
        """`stats()` per function (the sum of its mappings'; the largest concurrency observed)."""
        with self.lock:
            function_of = {uuid: r.mapping.function for uuid, r in self._runners.items()}
        found: dict[str, dict[str, int]] = {}
        for uuid, counts in self.stats().items():
            mine = found.setdefault(function_of.get(uuid, uuid), {})
            for name, n in counts.items():
                top = name == "max_concurrency_observed"
                mine[name] = max(mine.get(name, 0), n) if top else mine.get(name, 0) + n
        return found

    def reload(self) -> None:
        """Read the mappings now and resize every mapping's pollers to match."""
        try:
            mappings = {m.uuid: m for m in read_mappings(self.lambda_client)}
        except Exception:
            log.exception("cannot read the event source mappings from the emulator")
            return
        for uuid, mapping in mappings.items():
            why = rules.problem(mapping)
            if why is not None and self.problems.get(uuid) != why:
                log.warning("%s: it does not poll", why)
            if why is None:
                self.problems.pop(uuid, None)
            else:
                self.problems[uuid] = why
            runner = self._runners.setdefault(uuid, _Runner(self, mapping))
            runner.resize(mapping, 0 if self._stop.is_set() else rules.pollers_for(
                mapping, self.unset_limit))
        for uuid, runner in self._runners.items():
            if uuid not in mappings:
                runner.resize(None, 0)

    def _manage(self) -> None:
        while not self._stop.wait(self.refresh):
            self.reload()

    def _sqs(self, runner: _Runner) -> Any:
        return self.sqs if self.sqs_for is None else self.sqs_for(runner.mapping)

    def _count(self, runner: _Runner, **counts: int) -> None:
        with self.lock:
            for name, n in counts.items():
                self.counts[f"{runner.mapping.uuid}:{name}"] += n

    # One poller.
    def poll(self, runner: _Runner, stop: threading.Event) -> None:
        while not stop.is_set() and not self._stop.is_set():
            if self.ready is not None and not self.ready(runner.mapping.function):
                stop.wait(self.idle_wait)
                continue
            try:
                messages = self._gather(runner, stop)
                if messages:
                    self._deliver(runner, messages)
            except Exception as e:
                log.warning("event source mapping %s (%s): %s", runner.mapping.uuid,
                            runner.mapping.queue_name, e)
                runner.queue_url = None  # the queue may be gone, or replaced: look it up again
                stop.wait(1.0)

    def _url(self, runner: _Runner) -> str:
        if runner.queue_url is None:
            mapping = runner.mapping
            runner.queue_url = str(self._sqs(runner).get_queue_url(
                QueueName=mapping.queue_name, QueueOwnerAWSAccountId=mapping.account_id,
            )["QueueUrl"])
        return runner.queue_url

    def _gather(self, runner: _Runner, stop: threading.Event) -> list[dict[str, Any]]:
        """One batch (empty when the queue stayed empty for a long poll, or on a stop)."""
        got: list[dict[str, Any]] = []
        batch = Gathering(0, 0, None)
        while True:
            mapping, now = runner.mapping, time.monotonic()
            count = rules.next_receive(mapping, batch, now)
            if count == 0 or (not got and stop.is_set()):
                return got
            wait = rules.poll_time(mapping, batch, now, self.idle_wait)
            if wait < 1:  # WaitTimeSeconds is whole seconds: wait out a fraction here
                stop.wait(wait)
            answer = self._sqs(runner).receive_message(
                QueueUrl=self._url(runner),
                MaxNumberOfMessages=count,
                WaitTimeSeconds=int(wait),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = answer.get("Messages", [])
            if not received:
                if not got:
                    return got
                continue  # the window is still open, or next_receive ends the batch
            sizes = [rules.payload_size(m, mapping.queue_arn) for m in received]
            keep = rules.fitting(sizes, batch.payload)
            if keep < len(received):
                self._hand_back(runner, received[keep:])
                received, sizes = received[:keep], sizes[:keep]
                got.extend(received)
                return got  # full: the payload limit
            got.extend(received)
            batch = Gathering(
                len(got), batch.payload + sum(sizes),
                batch.first_at if batch.first_at is not None else time.monotonic(),
            )

    def _hand_back(self, runner: _Runner, messages: Sequence[dict[str, Any]]) -> None:
        """Messages received beyond the payload limit: visible again at once, for the next batch."""
        self._sqs(runner).change_message_visibility_batch(
            QueueUrl=self._url(runner),
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages)
            ],
        )

    def _deliver(self, runner: _Runner, messages: list[dict[str, Any]]) -> None:
        mapping = runner.mapping
        payload = json.dumps(rules.sqs_event(messages, mapping.queue_arn)).encode()
        with runner.invoking():
            try:
                invoked = self.invoke(mapping.function, payload)
            except Exception as e:
                log.warning("event source mapping %s: invoking %s failed: %s",
                            mapping.uuid, mapping.function, e)
                invoked = Invoked(500, b"", "Unhandled")
        succeeded = invoked.status == 200 and invoked.function_error is None
        outcome = rules.settle(
            [m["MessageId"] for m in messages], succeeded, invoked.body,
            mapping.report_item_failures,
        )
        done = [m for m in messages if m["MessageId"] in outcome.delete]
        deleted = self._delete(runner, done)
        self._count(
            runner, invocations=1, records=len(messages), deleted=deleted,
            failed_batches=int(not outcome.delete and bool(messages)),
        )
        if outcome.reason is not None:
            log.info("event source mapping %s: %d of %d messages stay (%s)", mapping.uuid,
                     len(messages) - len(done), len(messages), outcome.reason)

    def _delete(self, runner: _Runner, messages: Sequence[dict[str, Any]]) -> int:
        deleted = 0
        for first in range(0, len(messages), rules.MAX_RECEIVE):
            chunk = messages[first:first + rules.MAX_RECEIVE]
            answer = self._sqs(runner).delete_message_batch(
                QueueUrl=self._url(runner),
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                         for i, m in enumerate(chunk)],
            )
            deleted += len(answer.get("Successful", []))
            for failed in answer.get("Failed", []):  # the message comes back: say why
                log.warning("event source mapping %s: deleting a handled message failed (%s): "
                            "it is received again", runner.mapping.uuid,
                            failed.get("Code", "unknown"))
        return deleted
