"""The wrapper driven end to end for `event_from_message` components against real SQS (moto),
under faults (handler errors, malformed input, time running out, deletes failing). After each
fault: every input is processed, dead-lettered or queued."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from rt_support import APP, FakeContext, LambdaStub, Runtime, config, invocation_component
from rt_support import message_component as mc

from lambda_complex.runtime import inflight, names, protocol, resources, wrapper
from lambda_complex.runtime.config import Routing

ECHO = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"seen": event["n"], "by": context.aws_request_id}
"""


def setup_ab(rt: Runtime, code: str = ECHO, **a_settings: Any) -> tuple[str, str]:
    """a -> b, both message components; returns the input and output queue names."""
    module = rt.handler_module(code)
    a = mc("a", Routing(components=("b",)), handler=f"{module}.handler", **a_settings)
    b = mc("b", handler=f"{module}.handler")
    rt.use_config(config("a", a, b))
    rt.create_queues(a, visibility=a_settings.get("visibility_timeout", 30))
    rt.create_queues(b)
    return names.queue_name(APP, "a"), names.queue_name(APP, "b")


def run(context: FakeContext | None = None, lease: str | None = None) -> dict[str, Any]:
    return wrapper.handler(protocol.Nudge(lease).to_dict(), context or FakeContext())


def outputs(rt: Runtime, queue: str) -> list[protocol.Envelope]:
    return [protocol.parse_envelope(m["Body"]) for m in rt.drain(queue)]


def test_batch_is_handled_routed_and_deleted(rt: Runtime) -> None:
    qa, qb = setup_ab(rt, batch_size=3)
    sent = [protocol.new_envelope({"n": i}) for i in range(7)]
    for env in sent:
        rt.send("a", None, raw=env.to_json())
    summary = run()
    assert summary["succeeded"] == 7 and summary["failed"] == summary["dead_lettered"] == 0
    assert summary["batches"] >= 3 and summary["stopped"] == "empty"
    assert rt.depth(qa) == (0, 0)
    got = sorted(outputs(rt, qb), key=lambda e: e.data["seen"])
    assert [e.data["seen"] for e in got] == list(range(7))
    by_trace = {e.trace_id: e for e in sent}
    for e in got:
        assert e.hops == 1 and e.source == "a"
        assert by_trace[e.trace_id].data["n"] == e.data["seen"]  # the trace follows the message


def test_empty_queue_is_a_quiet_normal_exit(rt: Runtime) -> None:
    setup_ab(rt)
    assert run() == {
        "received": 0,
        "handled": 0,
        "succeeded": 0,
        "failed": 0,
        "dead_lettered": 0,
        "released": 0,
        "batches": 0,
        "stopped": "empty",
    }


def test_handler_error_retries_then_dead_letters_without_losing_others(rt: Runtime) -> None:
    qa, qb = setup_ab(rt, max_receive_count=2, visibility_timeout=5)
    rt.send("a", {"n": 1})
    rt.send("a", {"n": 2, "fail": True})
    rt.send("a", {"n": 3})
    first = run()
    assert (first["succeeded"], first["failed"]) == (2, 1)
    assert rt.depth(qa) == (0, 1)  # the failed one is waiting out its short backoff
    deadline = time.monotonic() + 15
    while rt.total(names.dead_letter_queue_name(APP, "a")) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)
        run()
    dead = rt.drain(names.dead_letter_queue_name(APP, "a"))
    assert [protocol.parse_envelope(m["Body"]).data["n"] for m in dead] == [2]
    assert rt.depth(qa) == (0, 0)
    assert sorted(e.data["seen"] for e in outputs(rt, qb)) == [1, 3]


def test_malformed_bodies_go_to_the_dlq_at_once_with_reason(rt: Runtime) -> None:
    qa, qb = setup_ab(rt)
    rt.send("a", None, raw="{not json")
    rt.send("a", None, raw=json.dumps({"hello": "world"}))
    rt.send("a", {"n": 1})
    summary = run()
    assert (summary["dead_lettered"], summary["succeeded"], summary["handled"]) == (2, 1, 1)
    assert rt.depth(qa) == (0, 0)
    dead = rt.drain(names.dead_letter_queue_name(APP, "a"))
    reasons = {m["Body"]: m["MessageAttributes"]["lc_reason"]["StringValue"] for m in dead}
    assert reasons["{not json"].startswith("malformed JSON")
    assert "not an envelope" in reasons[json.dumps({"hello": "world"})]
    assert all(m["MessageAttributes"]["lc_component"]["StringValue"] == "a" for m in dead)
    assert len(outputs(rt, qb)) == 1


def test_hop_limit_dead_letters_a_looping_message(rt: Runtime) -> None:
    module = rt.handler_module("def handler(event, context):\n    return event\n")
    a = mc("a", Routing(components=("a",)), handler=f"{module}.handler")
    rt.use_config(config("a", a, max_hops=3))
    qa = rt.create_queues(a)
    assert qa
    rt.send("a", {"n": 1})
    summary = run()
    # a -> a -> a -> a: three routed hops, then the fourth would exceed max_hops.
    assert (summary["succeeded"], summary["dead_lettered"]) == (3, 1)
    dead = rt.drain(names.dead_letter_queue_name(APP, "a"))
    assert "hop limit 3" in dead[0]["MessageAttributes"]["lc_reason"]["StringValue"]
    assert rt.total(names.queue_name(APP, "a")) == 0


def test_short_remaining_time_takes_no_message(rt: Runtime) -> None:
    qa, _ = setup_ab(rt, timeout=10)
    for i in range(3):
        rt.send("a", {"n": i})
    summary = run(FakeContext(remaining_ms=1500))  # reserve is 20% of 10 s = 2 s
    assert (summary["received"], summary["stopped"]) == (0, "time")
    assert rt.depth(qa) == (3, 0)


def test_time_running_out_mid_batch_hands_back_untaken_messages(rt: Runtime) -> None:
    qa, qb = setup_ab(rt, timeout=5, batch_size=5)
    for i in range(4):
        rt.send("a", {"n": i, "sleep": 0.8})
    # 2.3 s left, reserve 1 s: two 0.8 s handler calls fit, then the rest is handed back.
    summary = run(FakeContext(remaining_ms=2300))
    assert summary["stopped"] == "time"
    assert (summary["succeeded"], summary["released"]) == (2, 2)
    assert rt.depth(qa) == (summary["released"], 0)  # visible again at once, not after 30 s
    assert len(outputs(rt, qb)) == summary["succeeded"]


def test_lease_from_the_payload_is_handed_back_even_when_the_invocation_fails(
    rt: Runtime,
) -> None:
    qa, _ = setup_ab(rt)
    (lease,) = inflight.take(APP, "a", 1, 30, limit=1)
    assert inflight.count(APP, "a") == 1
    run(lease=lease)
    assert inflight.count(APP, "a") == 0
    (lease,) = inflight.take(APP, "a", 1, 30, limit=1)
    rt.sqs.delete_queue(QueueUrl=rt.url(qa))
    with pytest.raises(Exception, match=r"NonExistentQueue|QueueDoesNotExist"):
        run(lease=lease)
    assert inflight.count(APP, "a") == 0


def test_missing_target_queue_keeps_the_input_for_retry(rt: Runtime) -> None:
    qa, qb = setup_ab(rt)
    rt.send("a", {"n": 1})
    resources.queue_url(qb)  # cached URL, then the queue disappears under it
    rt.sqs.delete_queue(QueueUrl=rt.url(qb))
    summary = run()
    assert (summary["failed"], summary["succeeded"]) == (1, 0)
    assert rt.total(qa) == 1  # not deleted: it will be retried (or dead-lettered by redrive)
    assert rt.total(names.dead_letter_queue_name(APP, "a")) == 0


def test_sqs_error_on_delete_leaves_messages_to_redeliver(rt: Runtime) -> None:
    qa, qb = setup_ab(rt, visibility_timeout=2)
    for i in range(3):
        rt.send("a", {"n": i})

    def fail_delete(**_: Any) -> None:
        raise ConnectionError("injected: SQS unreachable on DeleteMessageBatch")

    events = resources.sqs().meta.events
    events.register("before-call.sqs.DeleteMessageBatch", fail_delete)
    try:
        summary = run()
    finally:
        events.unregister("before-call.sqs.DeleteMessageBatch", fail_delete)
    assert summary["stopped"] == "delete_failed"
    assert rt.depth(qa) == (0, 3)  # still queued, invisible until the visibility timeout
    time.sleep(2.2)
    assert run()["succeeded"] == 3
    assert rt.total(qa) == 0
    # At-least-once: results were routed twice, each input processed, none lost.
    assert sorted(e.data["seen"] for e in outputs(rt, qb)) == [0, 0, 1, 1, 2, 2]


def test_delete_batch_failed_entries_are_not_lost(rt: Runtime) -> None:
    qa, _ = setup_ab(rt, visibility_timeout=2)
    rt.send("a", {"n": 1})

    def partial_failure(params: dict[str, Any], **_: Any) -> Any:  # (http, parsed)
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "injected"}
            for e in params["Entries"]
        ]
        return type("R", (), {"status_code": 200})(), {"Successful": [], "Failed": failed}

    events = resources.sqs().meta.events
    events.register("before-call.sqs.DeleteMessageBatch", partial_failure)
    try:
        assert run()["stopped"] == "delete_failed"
    finally:
        events.unregister("before-call.sqs.DeleteMessageBatch", partial_failure)
    assert rt.total(qa) == 1


def test_invocation_targets_get_async_invokes(rt: Runtime, lambda_stub: LambdaStub) -> None:
    module = rt.handler_module(ECHO)
    a = mc("a", Routing(components=("p",)), handler=f"{module}.handler")
    rt.use_config(config("a", a, invocation_component("p", handler=f"{module}.handler")))
    qa = rt.create_queues(a)
    assert qa
    for i in range(2):
        rt.send("a", {"n": i})
    assert run()["succeeded"] == 2
    assert [c.function for c in lambda_stub.calls] == ["t-p", "t-p"]
    assert {c.invocation_type for c in lambda_stub.calls} == {"Event"}
    seen = [protocol.envelope_from_dict(c.payload).data["seen"] for c in lambda_stub.calls]
    assert sorted(seen) == [0, 1]


def test_throttled_invoke_keeps_the_input(rt: Runtime, lambda_stub: LambdaStub) -> None:
    module = rt.handler_module(ECHO)
    a = mc("a", Routing(components=("p",)), handler=f"{module}.handler")
    rt.use_config(config("a", a, invocation_component("p", handler=f"{module}.handler")))
    rt.create_queues(a)
    rt.send("a", {"n": 1})
    lambda_stub.throttled.add("t-p")
    summary = run()
    assert (summary["failed"], summary["succeeded"]) == (1, 0)
    assert rt.total(names.queue_name(APP, "a")) == 1
    assert lambda_stub.calls == []


def test_routing_function_diverts_failures(rt: Runtime) -> None:
    module = rt.handler_module(
        ECHO
        + """
def route(error, result):
    if error is not None:
        return [{"name": "errors", "data": {"error": str(error)}}]
    return [{"name": "b", "data": result}] if result["seen"] % 2 == 0 else []
"""
    )
    a = mc("a", Routing(function=f"{module}:route"), handler=f"{module}.handler")
    b, errors = mc("b"), mc("errors")
    rt.use_config(config("a", a, b, errors))
    for c in (a, b, errors):
        rt.create_queues(c)
    for i in range(3):
        rt.send("a", {"n": i})
    rt.send("a", {"n": 9, "fail": True})
    summary = run()
    assert (summary["succeeded"], summary["failed"]) == (4, 0)
    assert sorted(e.data["seen"] for e in outputs(rt, names.queue_name(APP, "b"))) == [0, 2]
    assert [e.data for e in outputs(rt, names.queue_name(APP, "errors"))] == [
        {"error": "asked to fail"}
    ]
    assert rt.total(names.queue_name(APP, "a")) == 0


def test_bad_routing_function_output_dead_letters(rt: Runtime) -> None:
    module = rt.handler_module(
        ECHO + "\ndef route(error, result):\n    return [{'name': 'zz', 'data': 1}]\n"
    )
    a = mc("a", Routing(function=f"{module}:route"), handler=f"{module}.handler")
    rt.use_config(config("a", a))
    rt.create_queues(a)
    rt.send("a", {"n": 1})
    assert run()["dead_lettered"] == 1
    dead = rt.drain(names.dead_letter_queue_name(APP, "a"))
    assert "'zz' is not a component" in dead[0]["MessageAttributes"]["lc_reason"]["StringValue"]


def test_no_state_leaks_between_invocations(rt: Runtime) -> None:
    qa, qb = setup_ab(rt)
    rt.send("a", {"n": 1})
    first = run()
    second = run()
    rt.send("a", {"n": 2})
    third = run()
    assert (first["succeeded"], second["succeeded"], third["succeeded"]) == (1, 0, 1)
    assert rt.total(qa) == 0 and len(outputs(rt, qb)) == 2


@pytest.mark.parametrize("batch_size", [1, 10])
def test_structured_log_line_per_message(
    rt: Runtime, capsys: pytest.CaptureFixture[str], batch_size: int
) -> None:
    setup_ab(rt, batch_size=batch_size)
    env = protocol.new_envelope({"n": 1})
    message_id = rt.send("a", None, raw=env.to_json())
    capsys.readouterr()
    run()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    [line] = [line for line in lines if line["event"] == "message"]
    assert line["component"] == "a" and line["trace_id"] == env.trace_id
    assert line["message_id"] == message_id and line["outcome"] == "succeeded"
    assert line["duration_ms"] >= 0


def test_invocation_killed_mid_batch_loses_nothing(rt: Runtime) -> None:
    """Lambda ends a timed-out invocation abruptly: nothing of that batch was deleted or routed,
    so every message comes back after the visibility timeout and is processed then."""
    code = """
class Killed(BaseException):  # what Lambda's timeout looks like from inside: no except runs
    pass

KILLS = []

def handler(event, context):
    if event.get("hang") and not KILLS:
        KILLS.append(1)
        raise Killed("invocation timed out")
    return {"seen": event["n"]}
"""
    qa, qb = setup_ab(rt, code=code, visibility_timeout=2)
    rt.send("a", {"n": 0})
    rt.send("a", {"n": 1, "hang": True})
    rt.send("a", {"n": 2})
    with pytest.raises(BaseException, match="invocation timed out"):
        run()
    assert rt.depth(qa) == (0, 3) and rt.total(qb) == 0
    time.sleep(2.2)
    assert run()["succeeded"] == 3
    assert rt.total(qa) == 0
    assert sorted(e.data["seen"] for e in outputs(rt, qb)) == [0, 1, 2]
