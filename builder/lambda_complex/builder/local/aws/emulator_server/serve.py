"""Start moto's server with two speed fixes and one race fix for SQS. Run by the emulator's own
Python (the environment `emulator_env` makes), so it imports only moto and the standard library.

Concurrent receives are serialized (see `_serialize_receives`). Both speed fixes avoid
`Queue.attributes`, which computes *every* queue attribute; three of them
(ApproximateNumberOfMessages, ...Delayed, ...NotVisible) scan every message in the queue and read
the clock (through datetime) four times per message. Where moto wants one attribute, that made
each message received or sent cost O(queue depth). Measured at depth 500:

- receive: the retention check of each candidate message computed all attributes to read one;
  ReceiveMessage(10) took 616 ms. The fix reads the one attribute the check needs.
- send: SendMessage, batch validation and FIFO deduplication compute all attributes only to ask
  `.get("ContentBasedDeduplication")`: once per message on a standard queue, up to six times on a
  FIFO one. SendMessageBatch(10) took 165 ms (FIFO: 1 s), 5 ms with the fix, as on an empty
  queue: when the caller is one of those functions, `attributes` returns just that entry, as moto
  computes it. (FIFO deduplication still compares each message's id: cheap, O(depth).)

The answers are the same. With any other moto (no such method or property, or a sender that reads
anything else from `attributes`), that part runs unchanged.

With IAM enforced, the fixes of `moto_iam` (a sibling module: this file runs as a script) apply.

moto loads a service's code on the first request for it, under one lock that every other request
waits on; CloudFormation's code imports nearly every service (seconds). With `--warm-up` (a local
run, which deploys a stack group at once) `_warm_up` loads the services a local run uses, in the
order it first calls them, in a thread from the start, so the first deploy's requests find them
ready; without it (tests that use one or two services) nothing more is loaded than they ask for.
"""

import functools
import importlib
import inspect
import sys
from typing import Any


def _patch_retention_check() -> None:
    try:
        from moto.core.utils import unix_time
        from moto.sqs import models
    except ImportError:
        return
    backend = getattr(models, "SQSBackend", None)
    if backend is None or not hasattr(backend, "is_message_valid_based_on_retention_period"):
        return

    def is_message_valid_based_on_retention_period(
        self: Any, queue_name: str, message: Any
    ) -> bool:
        period = int(self.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > unix_time())

    backend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


def _under(lock: Any, method: Any) -> Any:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked


def _serialize_receives() -> None:
    """moto checks a message's visibility and marks it received without a lock, so two
    concurrent receives could both take one message (a duplicate delivery real SQS practically
    never makes; with a redrive both could also move it to the DLQ, and one failed). Each scan
    now runs under one lock; a long poll waits for new messages outside it, as before.

    A delete rebuilds the queue's message list from a copy and assigns it back, so two
    concurrent deletes (or a delete during a scan) could put back what the other one deleted:
    the message returned when its visibility timeout ran out and was handled again; a message
    added meanwhile could be dropped the same way. Deletes and adds take the same lock
    (re-entrant: a receive's redrive adds to the dead-letter queue)."""
    try:
        import threading

        from moto.core.utils import unix_time
        from moto.sqs import models
    except ImportError:
        return
    backend: Any = getattr(models, "SQSBackend", None)
    original = getattr(backend, "receive_message", None)
    if original is None or list(inspect.signature(original).parameters)[1:5] != [
        "queue_name", "count", "wait_seconds_timeout", "visibility_timeout"
    ]:
        return
    lock = threading.RLock()
    queue: Any = getattr(models, "Queue", None)
    for name in ("delete_message", "add_message"):
        method = getattr(queue, name, None)
        if method is not None:
            setattr(queue, name, _under(lock, method))

    def receive_message(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: Any = None,
    ) -> Any:
        polling_end = unix_time() + wait_seconds_timeout
        while True:
            with lock:  # one scan, no waiting: moto's own loop with a zero wait
                result = original(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            if result or not wait_seconds_timeout or unix_time() > polling_end:
                return result
            self.get_queue(queue_name).wait_for_messages(1)

    backend.receive_message = receive_message


def _stop_delivery_inside_send() -> None:
    """moto's SQS calls a mapped function itself inside SendMessage (for every enabled event
    source mapping of the queue: one receive of BatchSize, ignoring ScalingConfig, the batching
    window and partial batch responses, on the sender's thread). The local Lambda service polls
    the mappings as Lambda does (`lambda_service/event_source_pollers`), so here a queue never
    holds mappings: its `lambda_event_source_mappings` is always empty and writes to it are
    dropped. The mappings themselves stay in moto's Lambda backend (Create/Update/List/Delete
    are unchanged)."""
    try:
        from moto.sqs import models
    except ImportError:
        return
    queue: Any = getattr(models, "Queue", None)
    if queue is None or "lambda_event_source_mappings" in vars(queue):
        return
    queue.lambda_event_source_mappings = property(lambda self: {}, lambda self, value: None)


CONTENT_BASED_DEDUPLICATION = '.attributes.get("ContentBasedDeduplication")'


def _patch_send_attributes() -> None:
    try:
        from moto.sqs import models
    except ImportError:
        return
    queue: Any = getattr(models, "Queue", None)
    backend: Any = getattr(models, "SQSBackend", None)
    every = getattr(queue, "attributes", None)
    if not isinstance(every, property) or every.fget is None:
        return
    compute_all = every.fget
    senders = set()  # the code of moto's functions whose only use of attributes is that one read
    for owner, name in (
        (backend, "send_message"),
        (backend, "_validate_message"),
        (queue, "add_message"),
    ):
        function: Any = getattr(owner, name, None)
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            continue
        if source.count(".attributes") == source.count(CONTENT_BASED_DEDUPLICATION) > 0:
            senders.add(function.__code__)
    if not senders:
        return

    def attributes(self: Any) -> Any:
        # The caller's frame: one of the senders above, or anyone else (GetQueueAttributes...)
        if sys._getframe(1).f_code not in senders:
            return compute_all(self)
        if not self.fifo_queue:  # as in moto: only a FIFO queue has the entry
            return {}
        value = self.content_based_deduplication
        return {
            "ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value
        }

    queue.attributes = property(attributes, doc=every.__doc__)


def share_loaded_data() -> None:
    """Every boto3 session moto makes (at import, EC2 alone makes three, to list its regions)
    loads botocore's data again for itself: EC2's service model is megabytes of JSON, so
    loading moto's CloudFormation (which imports EC2) took a second or more longer than needed.
    The data is the same for every session of one process, so all loaders now share what they
    load (keyed as each loader's own cache is, plus its search paths): the same objects one
    loader hands out again to its own callers, who only read them."""
    try:
        import threading

        from botocore import loaders
    except ImportError:
        return
    loader: Any = getattr(loaders, "Loader", None)
    names = ("list_available_services", "load_service_model", "load_data_with_path")
    if loader is None or not all(callable(getattr(loader, n, None)) for n in names):
        return
    lock = threading.Lock()

    def shared(original: Any) -> Any:
        found: dict[tuple[Any, ...], Any] = {}

        @functools.wraps(original)
        def load(self: Any, *args: Any, **kwargs: Any) -> Any:
            key = (tuple(self.search_paths), args, tuple(sorted(kwargs.items())))
            with lock:
                if key in found:
                    return found[key]
            value = original(self, *args, **kwargs)
            with lock:
                return found.setdefault(key, value)

        return load

    for name in names:
        setattr(loader, name, shared(getattr(loader, name)))


WARM_UP_ARG = "--warm-up"
# The services a local run calls, in the order of their first call: the deployer's IAM user, its
# role sessions, the stacks (whose resources are SQS, IAM, Lambda, SSM, EventBridge), the checks.
WARM_UP = ("iam", "sts", "cloudformation", "sqs", "lambda", "ssm", "events", "s3", "ecr")


def _warm_up(services: tuple[str, ...] = WARM_UP) -> None:
    """Make moto's dispatcher load `services` in a thread as soon as it exists; a request for a
    service not loaded yet waits for it, as it would for its own first request."""
    try:
        import threading

        import moto.server
        from moto import backends
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    except ImportError:
        return

    def load(dispatcher: Any) -> None:
        for service in services:
            try:
                backends.get_backend(service)  # the import, outside the dispatcher's lock
                if service == "cloudformation":
                    importlib.import_module("moto.cloudformation.parsing")
                with dispatcher.lock:
                    if service not in dispatcher.app_instances:
                        dispatcher.app_instances[service] = dispatcher.create_app(service)
            except Exception:  # moto loads it on first use, as it would without warm-up
                continue

    class WarmDispatcher(DomainDispatcherApplication):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            threading.Thread(target=load, args=(self,), name="warm-up", daemon=True).start()

    moto.server.DomainDispatcherApplication = WarmDispatcher


if __name__ == "__main__":
    share_loaded_data()
    importlib.import_module("moto_iam").patch()
    _patch_retention_check()
    _patch_send_attributes()
    _serialize_receives()
    _stop_delivery_inside_send()
    arguments = sys.argv[1:]
    if WARM_UP_ARG in arguments:
        arguments.remove(WARM_UP_ARG)
        _warm_up()
    from moto.server import main

    main(arguments)
