"""The embedded emulator's launcher: moto whose SQS receives and sends cost O(1) per message
instead of O(queue depth), with the same answers."""

from __future__ import annotations

import subprocess
import textwrap
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest

from lambda_complex.builder.local.aws import emulator

from .conftest import missing_real_part

CHECK = textwrap.dedent("""
    import runpy, sys
    from moto.sqs import models
    original = models.SQSBackend.is_message_valid_based_on_retention_period
    runpy.run_path(sys.argv[1])["_patch_retention_check"]()
    patched = models.SQSBackend.is_message_valid_based_on_retention_period
    assert patched is not original
    backend = models.sqs_backends["123456789012"]["eu-west-1"]
    backend.create_queue("q", MessageRetentionPeriod="60")
    fresh = backend.send_message("q", "x")
    old = backend.send_message("q", "y")
    old.sent_timestamp -= 61_000
    for message in (fresh, old):
        assert patched(backend, "q", message) == original(backend, "q", message)
    print(patched(backend, "q", fresh), patched(backend, "q", old))
""")


def run_in_emulator_python(script: str) -> list[str]:
    """Run `script` (given the launcher's path) with moto's own Python; its printed words."""
    try:
        command = emulator.server_command(emulator.find_moto_server())
    except emulator.EmulatorNotFound as e:
        missing_real_part(str(e))
        raise
    assert command[1:] == [str(emulator.FAST_LAUNCHER)], command
    done = subprocess.run(
        [command[0], "-c", script, str(emulator.FAST_LAUNCHER)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_fast_launcher_gives_moto_the_same_answers() -> None:
    assert run_in_emulator_python(CHECK) == ["True", "False"]


def test_without_a_python_beside_moto_server_it_runs_unchanged(tmp_path: Path) -> None:
    executable = tmp_path / "moto_server"
    executable.write_text("")
    assert emulator.server_command(str(executable)) == [str(executable)]
    assert emulator.server_command(str(executable), fast=False) == [str(executable)]


def test_the_provisioned_environment_runs_moto_through_its_python(tmp_path: Path) -> None:
    # Its scripts are never run: the environment is built in one folder, then moved into place.
    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    python.write_text("")
    assert emulator.server_command(str(python)) == [str(python), str(emulator.FAST_LAUNCHER)]
    assert emulator.server_command(str(python), fast=False) == [str(python), "-m", "moto.server"]


def _sqs(server: emulator.Emulator) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _answer(call: Callable[..., dict[str, Any]], **request: Any) -> Any:
    """The answer to one call without what differs from run to run (metadata, timestamps)."""
    try:
        answer = call(**request)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]
    answer.pop("ResponseMetadata", None)
    for key in ("CreatedTimestamp", "LastModifiedTimestamp"):
        answer.get("Attributes", {}).pop(key, None)
    for message in answer.get("Messages", []):
        for key in ("SentTimestamp", "ApproximateFirstReceiveTimestamp"):
            message["Attributes"].pop(key, None)
    return answer


def _send_scenario(server: emulator.Emulator) -> list[Any]:
    """Sends of every kind (standard, FIFO, content-based deduplication, delays, duplicates,
    invalid requests) to queues 30 deep, then what a receive returns and the queues' attributes."""
    server.reset()
    seed = urllib.request.Request(f"{server.endpoint_url}/moto-api/seed?a=7", method="POST")
    with urllib.request.urlopen(seed, timeout=10):
        pass  # the same seed: the same message ids, sequence numbers and receipt handles
    sqs = _sqs(server)
    std = sqs.create_queue(QueueName="std")["QueueUrl"]
    fifo = sqs.create_queue(QueueName="f.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    cbd_attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    cbd = sqs.create_queue(QueueName="c.fifo", Attributes=cbd_attributes)["QueueUrl"]
    answers = []
    for n in range(3):
        bodies = [(f"e{i}", f"{n}-{i}") for i in range(10)]
        for url, extra in ((std, {}), (cbd, {"MessageGroupId": "g"})):
            entries = [{"Id": i, "MessageBody": body, **extra} for i, body in bodies]
            answers.append(_answer(sqs.send_message_batch, QueueUrl=url, Entries=entries))
        entries = [
            {"Id": i, "MessageBody": body, "MessageGroupId": "g", "MessageDeduplicationId": body}
            for i, body in bodies
        ]
        answers.append(_answer(sqs.send_message_batch, QueueUrl=fifo, Entries=entries))
    attributes = {"a": {"DataType": "String", "StringValue": "v"}}
    sends: list[tuple[str, dict[str, Any]]] = [
        (std, {"MessageBody": "plain", "MessageAttributes": attributes}),
        (std, {"MessageBody": "later", "DelaySeconds": 60}),
        (std, {"MessageBody": "too late", "DelaySeconds": 901}),
        (fifo, {"MessageBody": "d", "MessageGroupId": "g", "MessageDeduplicationId": "d"}),
        (fifo, {"MessageBody": "d again", "MessageGroupId": "g", "MessageDeduplicationId": "d"}),
        (fifo, {"MessageBody": "no deduplication id", "MessageGroupId": "g"}),
        (fifo, {"MessageBody": "no group", "MessageDeduplicationId": "x"}),
        (
            fifo,
            {
                "MessageBody": "delayed",
                "MessageGroupId": "g",
                "MessageDeduplicationId": "y",
                "DelaySeconds": 5,
            },
        ),
        (cbd, {"MessageBody": "same", "MessageGroupId": "h"}),
        (cbd, {"MessageBody": "same", "MessageGroupId": "h"}),
        (cbd, {"MessageBody": "other", "MessageGroupId": "h", "MessageDeduplicationId": "o"}),
        (cbd, {"MessageBody": "no group"}),
    ]
    for url, send in sends:
        answers.append(_answer(sqs.send_message, QueueUrl=url, **send))
    entries = [
        {"Id": "ok", "MessageBody": "ok"},
        {"Id": "bad", "MessageBody": "x", "DelaySeconds": 901},
        {"Id": "delayed", "MessageBody": "y", "DelaySeconds": 30},
    ]
    answers.append(_answer(sqs.send_message_batch, QueueUrl=std, Entries=entries))
    for url in (std, fifo, cbd):
        answers.append(
            _answer(
                sqs.receive_message,
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=60,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        )
        answers.append(_answer(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"]))
    return answers


def test_fast_launcher_sends_give_moto_the_same_answers(emulator_server: emulator.Emulator) -> None:
    with emulator.start(fast=False) as plain:
        expected = _send_scenario(plain)
    assert _send_scenario(emulator_server) == expected
    assert len(expected) == 28 and sum("Code" in answer for answer in expected) == 5


SEND_CHECK = textwrap.dedent("""
    import runpy, sys
    from moto.sqs import models
    full, computed = models.Queue.attributes.fget, []
    def counted(self):  # every computation of all attributes (O(queue depth)), by caller
        computed.append(sys._getframe(1).f_code.co_name)
        return full(self)
    models.Queue.attributes = property(counted)
    runpy.run_path(sys.argv[1])["_patch_send_attributes"]()
    backend = models.sqs_backends["123456789012"]["eu-west-1"]
    backend.create_queue("q")
    backend.create_queue("f.fifo", FifoQueue="true")
    for i in range(3):
        backend.send_message("q", f"m{i}")
        backend.send_message("f.fifo", f"m{i}", group_id="g", deduplication_id=str(i))
    sending = len(computed)
    backend.get_queue_attributes("q", ["All"])  # everyone else still gets the full computation
    print(sending, len(computed) - sending)
""")


def test_fast_launcher_sends_compute_no_queue_wide_attributes() -> None:
    """moto computed every queue attribute (scanning every message several times) for each
    message sent, only to read ContentBasedDeduplication: SendMessageBatch(10) took 165 ms at
    depth 500. With the launcher's patch a send computes none of them."""
    assert run_in_emulator_python(SEND_CHECK) == ["0", "1"]


RACE_CHECK = textwrap.dedent("""
    import runpy, sys, threading, time
    from moto.sqs import models
    runpy.run_path(sys.argv[1])["_serialize_receives"]()
    backend = models.sqs_backends["123456789012"]["eu-west-1"]
    backend.create_queue("q")
    backend.send_message("q", "only")
    mark = models.Message.mark_received
    def slow_mark(self, *args, **kwargs):  # widen the window between visibility check and mark
        time.sleep(0.2)
        return mark(self, *args, **kwargs)
    models.Message.mark_received = slow_mark
    got = []
    def receive():
        got.extend(backend.receive_message("q", 10, 0, 30))
    threads = [threading.Thread(target=receive) for _ in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(len(got))
""")
DELETE_RACE_CHECK = textwrap.dedent("""
    import runpy, sys, threading, time
    from moto.sqs import models
    runpy.run_path(sys.argv[1])["_serialize_receives"]()
    backend = models.sqs_backends["123456789012"]["eu-west-1"]
    queue = backend.create_queue("q")
    for body in ("a", "b", "c"):
        backend.send_message("q", body)
    handles = {m.body: m.receipt_handle for m in backend.receive_message("q", 10, 0, 30)}
    had = models.Message.had_receipt_handle
    def slow_had(self, handle):  # widen the window between a delete's copy and its write-back
        time.sleep(0.05)
        return had(self, handle)
    models.Message.had_receipt_handle = slow_had
    threads = [threading.Thread(target=backend.delete_message, args=("q", handles[b]))
               for b in ("a", "b")]
    for t in threads: t.start()
    for t in threads: t.join()
    print(sorted(m.body for m in queue._messages))
""")
LONG_POLL_CHECK = textwrap.dedent("""
    import runpy, sys, threading, time
    from moto.sqs import models
    runpy.run_path(sys.argv[1])["_serialize_receives"]()
    backend = models.sqs_backends["123456789012"]["eu-west-1"]
    backend.create_queue("q")
    threading.Timer(0.5, lambda: backend.send_message("q", "later")).start()
    start = time.monotonic()
    polled = backend.receive_message("q", 10, 5, 30)
    print([m.body for m in polled], time.monotonic() - start < 2)
""")


def test_concurrent_receives_never_take_one_message_twice() -> None:
    assert run_in_emulator_python(RACE_CHECK) == ["1"]


def test_concurrent_deletes_never_put_back_what_the_other_deleted() -> None:
    """Without the lock one delete's write-back restored the other's message, which came back
    when its visibility timeout ran out and was handled twice."""
    assert run_in_emulator_python(DELETE_RACE_CHECK) == ["['c']"]


# Returning before the 5 s wait ends is the claim: serialized receives must not hold a long poll.
@pytest.mark.timing
def test_a_long_poll_returns_as_soon_as_a_message_arrives() -> None:
    assert run_in_emulator_python(LONG_POLL_CHECK) == ["['later']", "True"]
