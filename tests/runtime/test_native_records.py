"""`dispatch: native`: an SQS event source mapping invokes the component with `{"Records": [...]}`
(messages Lambda received) and the wrapper answers which must come back (`batchItemFailures`).
The events here are made from messages really received from the emulator's queue (real receipt
handles and receive counts) by the same code the local pollers use (`event_sources.sqs_event`):
the wrapper never deletes one (Lambda deletes what the answer does not name), so every record's
message is still in flight after the call."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rt_support import APP, FakeContext, Runtime, config, invocation_component
from rt_support import message_component as mc

from lambda_complex.builder.local.lambda_service import event_sources
from lambda_complex.runtime import names, protocol, wrapper
from lambda_complex.runtime.config import NATIVE, ComponentConfig, Routing

HANDLER = """
import json, os, time

def handler(event, context):
    with open(os.environ["ORDER_FILE"], "a") as f:
        f.write(json.dumps({"start": event["n"]}) + "\\n")
    if event.get("sleep"):
        time.sleep(event["sleep"])
        with open(os.environ["ORDER_FILE"], "a") as f:
            f.write(json.dumps({"end": event["n"]}) + "\\n")
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"seen": event["n"]}
"""


def _setup(rt: Runtime, tmp_path: Path, *, b_queue: bool = True,
           **a_settings: Any) -> ComponentConfig:
    rt.monkeypatch.setenv("ORDER_FILE", str(tmp_path / "order.jsonl"))
    module = rt.handler_module(HANDLER)
    a = mc("a", Routing(components=("b",)), handler=f"{module}.handler", dispatch=NATIVE,
           **a_settings)
    b = mc("b")
    rt.use_config(config("a", a, b))
    rt.create_queues(a, visibility=30)
    if b_queue:
        rt.create_queues(b)
    # A push of b reads the pause switch: the emulator's SSM loads on its first call (seconds),
    # which must not eat the time of a test's invocation.
    rt.ssm.get_parameters(Names=[names.control_parameter_name(APP)])
    return a


def _receive(rt: Runtime, component: str, count: int) -> list[dict[str, Any]]:
    """`count` messages received as the mapping's poller receives them (every attribute)."""
    url = rt.url(names.queue_name(APP, component))
    got: list[dict[str, Any]] = []
    while len(got) < count:
        got += rt.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(10, count - len(got)),
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
    return got


def _event(rt: Runtime, component: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    url = rt.url(names.queue_name(APP, component))
    arn = rt.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return event_sources.sqs_event(messages, arn["Attributes"]["QueueArn"])


def _received_again(rt: Runtime, component: str, message: dict[str, Any]) -> dict[str, Any]:
    """The same message on its next receive (visible again at once, then received)."""
    url = rt.url(names.queue_name(APP, component))
    rt.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                     VisibilityTimeout=0)
    [again] = _receive(rt, component, 1)
    assert again["MessageId"] == message["MessageId"]
    return again


def _by_n(messages: list[dict[str, Any]]) -> dict[Any, str]:
    out = {}
    for m in messages:
        try:
            out[json.loads(m["Body"])["data"]["n"]] = m["MessageId"]
        except (ValueError, KeyError, TypeError):
            out["raw"] = m["MessageId"]
    return out


def _failures(*ids: str) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def _routed(rt: Runtime) -> list[int]:
    return sorted(protocol.parse_envelope(m["Body"]).data["seen"]
                  for m in rt.drain(names.queue_name(APP, "b")))


def _dead(rt: Runtime) -> dict[str, str]:
    """Dead letters: input id -> reason."""
    return {m["MessageAttributes"]["lc_input_id"]["StringValue"]:
            m["MessageAttributes"]["lc_reason"]["StringValue"]
            for m in rt.drain(names.dead_letter_queue_name(APP, "a"))}


def _in_order(event: dict[str, Any], ids: set[str]) -> list[str]:
    return [r["messageId"] for r in event["Records"] if r["messageId"] in ids]


def test_a_batch_answers_only_what_must_come_back_and_deletes_nothing(
    rt: Runtime, tmp_path: Path
) -> None:
    _setup(rt, tmp_path, max_receive_count=2)
    for data in ({"n": 1}, {"n": 2, "fail": True}, {"n": 3}):
        rt.send("a", data)
    rt.send("a", None, raw="not json")
    messages = _receive(rt, "a", 4)
    event = _event(rt, "a", messages)
    assert protocol.is_sqs_event(event)
    ids = _by_n(messages)
    response = wrapper.handler(event, FakeContext(20_000))
    # The failure on its first of two receives comes back; the unreadable body is
    # dead-lettered at once, so it is reported done, as are the two that succeeded.
    assert response == _failures(ids[2])
    assert _routed(rt) == [1, 3]
    dead = _dead(rt)
    assert list(dead) == [ids["raw"]] and dead[ids["raw"]].startswith("malformed JSON")
    assert rt.depth(names.queue_name(APP, "a")) == (0, 4)  # Lambda deletes, not the wrapper


def test_the_last_allowed_receive_dead_letters_a_failure_with_its_reason(
    rt: Runtime, tmp_path: Path
) -> None:
    _setup(rt, tmp_path, max_receive_count=2)
    rt.send("a", {"n": 7, "fail": True})
    rt.send("a", {"n": 8})
    first = _receive(rt, "a", 2)
    ids = _by_n(first)
    failing = next(m for m in first if m["MessageId"] == ids[7])
    again = _received_again(rt, "a", failing)  # receive 2 of 2
    fresh = next(m for m in first if m["MessageId"] == ids[8])
    response = wrapper.handler(_event(rt, "a", [again, fresh]), FakeContext(20_000))
    assert response == _failures()  # both done: one routed, one dead-lettered with its reason
    reason = _dead(rt)[ids[7]]
    assert "asked to fail" in reason and "receive 2 of 2" in reason
    assert _routed(rt) == [8]
    assert rt.depth(names.queue_name(APP, "a")) == (0, 2)


def test_a_failed_send_brings_its_record_back(rt: Runtime, tmp_path: Path) -> None:
    _setup(rt, tmp_path, b_queue=False)  # the target's queue is missing: every send fails
    rt.send("a", {"n": 1})
    rt.send("a", {"n": 2})
    messages = _receive(rt, "a", 2)
    event = _event(rt, "a", messages)
    response = wrapper.handler(event, FakeContext(20_000))
    assert response == _failures(*_in_order(event, set(_by_n(messages).values())))
    assert _dead(rt) == {}


def _wait_for_end(order: Path, n: int, timeout_s: float = 10.0) -> list[dict[str, int]]:
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [json.loads(x) for x in order.read_text().splitlines()]
        if {"end": n} in lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_a_hanging_handler_returns_its_own_and_the_unstarted_records_only(
    rt: Runtime, tmp_path: Path
) -> None:
    _setup(rt, tmp_path, timeout=5, max_receive_count=3)
    for n in range(5):
        rt.send("a", {"n": n, "sleep": 3 if n == 2 else 0})
    messages = _receive(rt, "a", 5)
    event = _event(rt, "a", messages)
    ids = _by_n(messages)
    # 2 s left, a reserve of 1 s (20% of 5 s, at least 1 s): the hanging handler is given up
    # after about 1 s, and the answer comes before it returns (3 s).
    order = tmp_path / "order.jsonl"
    response = wrapper.handler(event, FakeContext(2000))
    assert {"end": 2} not in [json.loads(x) for x in order.read_text().splitlines()]
    lines = _wait_for_end(order, 2)  # let the thread finish (test hygiene)
    begun = [x["start"] for x in lines if "start" in x]
    done = begun[: begun.index(2)]
    unstarted = {ids[n] for n in range(5) if n not in begun}
    assert response == _failures(*_in_order(event, {ids[2]} | unstarted))
    assert _routed(rt) == sorted(done)  # what finished before the hang was sent
    assert _dead(rt) == {}  # on its first of three receives it just comes back
    # Nothing deleted (Lambda deletes the finished ones); the unstarted ones are visible again
    # at once, and the hanging one is held back so that they come back without it.
    assert rt.depth(names.queue_name(APP, "a")) == (len(unstarted), 5 - len(unstarted))
    again = rt.sqs.receive_message(QueueUrl=rt.url(names.queue_name(APP, "a")),
                                   MaxNumberOfMessages=10)["Messages"]
    assert {m["MessageId"] for m in again} == unstarted


def test_a_handler_hanging_on_the_last_allowed_receive_is_dead_lettered_with_the_reason(
    rt: Runtime, tmp_path: Path
) -> None:
    _setup(rt, tmp_path, timeout=5, max_receive_count=2)
    rt.send("a", {"n": 1, "sleep": 2.5})
    rt.send("a", {"n": 4})
    first = _receive(rt, "a", 2)
    ids = _by_n(first)
    hanging = _received_again(rt, "a", next(m for m in first if m["MessageId"] == ids[1]))
    fresh = next(m for m in first if m["MessageId"] == ids[4])
    # Fresh records are taken first: n=4 is handled, then n=1 hangs on its second of two.
    response = wrapper.handler(_event(rt, "a", [hanging, fresh]), FakeContext(2000))
    assert response == _failures()
    assert _routed(rt) == [4]
    reason = _dead(rt)[ids[1]]
    assert reason == "handler still running when the invocation's time ran out (receive 2 of 2)"
    _wait_for_end(tmp_path / "order.jsonl", 1)


def test_a_nudge_and_an_invocation_component_take_their_old_paths(
    rt: Runtime, tmp_path: Path
) -> None:
    _setup(rt, tmp_path)
    rt.send("a", {"n": 5})
    # A nudge: the queue loop receives the message itself and deletes it when it is done.
    summary = wrapper.handler(protocol.Nudge().to_dict(), FakeContext(20_000))
    assert (summary["received"], summary["succeeded"]) == (1, 1)
    assert rt.total(names.queue_name(APP, "a")) == 0
    assert _routed(rt) == [5]
    # An invocation component's payload is its data, whatever its shape.
    module = rt.handler_module("def handler(event, context):\n    return event\n")
    p = invocation_component("p", Routing(components=("b",)), handler=f"{module}.handler")
    rt.use_config(config("p", p, mc("b")))
    rt.send("a", {"n": 6})
    event = _event(rt, "a", _receive(rt, "a", 1))
    answer = wrapper.handler(event, FakeContext(20_000))
    assert answer == {"handled": 1, "succeeded": 1, "failed": 0, "dead_lettered": 0}
    [routed] = rt.drain(names.queue_name(APP, "b"))
    assert protocol.parse_envelope(routed["Body"]).data == event


def test_a_record_not_started_on_its_last_receive_is_sent_again_and_reported_done(
    rt: Runtime, tmp_path: Path
) -> None:
    """Named in the answer, it would come back once more and the queue's redrive would move it
    with no reason, never tried: it is sent again as a new message, and Lambda deletes this one."""
    _setup(rt, tmp_path, timeout=5, max_receive_count=2)
    rt.send("a", {"n": 1})
    rt.send("a", {"n": 2, "sleep": 2.5})
    first = _receive(rt, "a", 2)
    ids = _by_n(first)
    last = _received_again(rt, "a", next(m for m in first if m["MessageId"] == ids[1]))
    hanging = next(m for m in first if m["MessageId"] == ids[2])
    # The fresh record is taken first and hangs; n=1, on its second of two receives, waits.
    response = wrapper.handler(_event(rt, "a", [last, hanging]), FakeContext(2000))
    assert response == _failures(ids[2])  # the hanging one comes back; n=1 is done
    [again] = rt.sqs.receive_message(QueueUrl=rt.url(names.queue_name(APP, "a")),
                                     MaxNumberOfMessages=10)["Messages"]
    assert protocol.parse_envelope(again["Body"]).data == {"n": 1}
    assert again["MessageId"] not in ids.values()
    assert _dead(rt) == {}
    _wait_for_end(tmp_path / "order.jsonl", 2)
