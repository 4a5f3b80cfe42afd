"""A message's fate depends on that message alone: a handler that hangs costs its own message,
not its batch-mates; messages that were received before are taken last; a failure on the last
allowed receive is dead-lettered with its reason (SQS's redrive would keep none)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from rt_support import APP, FakeContext, Runtime, config
from rt_support import message_component as mc

from lambda_complex.runtime import names, protocol, wrapper
from lambda_complex.runtime.config import Routing

RECORDING = """
import os, time

def handler(event, context):
    with open(os.environ["ORDER_FILE"], "a") as f:
        f.write(f"{event['n']}\\n")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"seen": event["n"]}
"""


def _setup(rt: Runtime, tmp_path: Path, **a_settings: Any) -> tuple[str, str, Path]:
    order = tmp_path / "order.txt"
    rt.monkeypatch.setenv("ORDER_FILE", str(order))
    module = rt.handler_module(RECORDING)
    a = mc("a", Routing(components=("b",)), handler=f"{module}.handler", **a_settings)
    b = mc("b", handler=f"{module}.handler")
    rt.use_config(config("a", a, b))
    rt.create_queues(a, visibility=30)
    rt.create_queues(b)
    return names.queue_name(APP, "a"), names.queue_name(APP, "b"), order


def _run(context: FakeContext) -> dict[str, Any]:
    return wrapper.handler(protocol.Nudge(None).to_dict(), context)


def test_a_hanging_handler_costs_only_its_own_message(rt: Runtime, tmp_path: Path) -> None:
    qa, qb, order = _setup(rt, tmp_path, timeout=5, batch_size=5)
    for n in range(5):
        rt.send("a", {"n": n, "sleep": 6 if n == 2 else 0})
    # The invocation has 3 s; the handler of n=2 outlives it. The watchdog fires when the
    # remaining time reaches the reserve (1 s): what finished is settled, the rest handed back.
    summary: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: summary.update(_run(FakeContext(3000))))
    worker.start()
    time.sleep(2.6)  # the watchdog has fired (at ~2 s); the handler of n=2 is still sleeping
    started = [int(line) for line in order.read_text().split()]
    before = started[: started.index(2)]
    routed = sorted(e.data["seen"] for e in map(lambda m: protocol.parse_envelope(m["Body"]),
                                                 rt.drain(qb)))
    assert routed == sorted(before)  # finished before the hang: routed and deleted
    visible, in_flight = rt.depth(qa)
    assert (visible, in_flight) == (4 - len(before), 1)  # handed back at once; only n=2 held
    worker.join(10)
    assert summary["released"] == 4 - len(before)


def test_messages_received_before_are_taken_after_fresh_ones(rt: Runtime, tmp_path: Path) -> None:
    qa, _, order = _setup(rt, tmp_path, timeout=10, batch_size=5)
    rt.send("a", {"n": 0})
    sqs, url = rt.sqs, rt.url(qa)
    [old] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"],
                                  VisibilityTimeout=0)  # received once: count 1 -> 2 next time
    for n in (1, 2, 3):
        rt.send("a", {"n": n})
    summary = _run(FakeContext(20_000))
    assert summary["succeeded"] == 4
    assert [int(line) for line in order.read_text().split()][-1] == 0


def test_failure_on_the_last_receive_is_dead_lettered_with_its_reason(
    rt: Runtime, tmp_path: Path
) -> None:
    qa, _, _ = _setup(rt, tmp_path, timeout=10, batch_size=1, max_receive_count=2)
    rt.send("a", {"n": 7, "fail": True})
    first = _run(FakeContext(20_000))
    assert (first["failed"], first["dead_lettered"]) == (1, 0)  # a retry is still allowed
    time.sleep(1.2)  # the retry backoff after the first failure is 1 s
    second = _run(FakeContext(20_000))
    assert (second["failed"], second["dead_lettered"]) == (0, 1)
    [dead] = rt.drain(names.dead_letter_queue_name(APP, "a"))
    reason = dead["MessageAttributes"]["lc_reason"]["StringValue"]
    assert "asked to fail" in reason and "receive 2 of 2" in reason
    assert rt.total(qa) == 0


def test_a_message_not_started_on_its_last_receive_is_sent_again_not_redriven(
    rt: Runtime, tmp_path: Path
) -> None:
    """Handed back as it is, a message on its last allowed receive would be moved by the queue's
    redrive at its next receive, never tried and with no reason: it goes back as a new message."""
    qa, _, order = _setup(rt, tmp_path, timeout=5, batch_size=5, max_receive_count=2)
    sqs, url = rt.sqs, rt.url(qa)
    innocent = rt.send("a", {"n": 1})
    [old] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"],
                                  VisibilityTimeout=0)  # its next receive is its last (2 of 2)
    rt.send("a", {"n": 2, "sleep": 6})  # fresh, so taken first: it hangs
    summary: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: summary.update(_run(FakeContext(3000))))
    worker.start()
    time.sleep(2.6)  # the watchdog has fired (at ~2 s) and handed n=1 back
    assert [int(line) for line in order.read_text().split()] == [2]  # n=1 never started
    [again] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                  MessageSystemAttributeNames=["ApproximateReceiveCount"],
                                  )["Messages"]  # the hanging n=2 is held out of sight
    assert protocol.parse_envelope(again["Body"]).data == {"n": 1}
    assert again["MessageId"] != innocent  # a new message: the one received was deleted
    assert again["Attributes"]["ApproximateReceiveCount"] == "1"
    assert rt.drain(names.dead_letter_queue_name(APP, "a")) == []
    worker.join(10)
    assert summary["released"] == 1
