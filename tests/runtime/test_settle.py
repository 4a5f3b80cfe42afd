"""The settle step, pure: what the handler produced and what the sends and deletes answered go in;
what to send, what stays for redelivery, the final outcomes and the counts come out."""

from __future__ import annotations

from lambda_complex.runtime import settle
from lambda_complex.runtime.delivery import Outgoing
from lambda_complex.runtime.handling import Handled
from lambda_complex.runtime.protocol import Outcome, RouteKind

NO_FAILURES = settle.Sent({}, {})


def out(key: str, target: str = "b") -> Outgoing:
    return Outgoing(key, target, RouteKind.QUEUE, "{}")


def handled() -> dict[str, Handled]:
    diverted = Handled(Outcome.DIVERTED, [out("d", "errors")], error=ValueError("x"),
                       handler_called=True)
    return {
        "ok": Handled(Outcome.SUCCEEDED, [out("ok"), out("ok", "c")], handler_called=True),
        "d": diverted,
        "f": Handled(Outcome.FAILED, reason="handler raised ValueError: x",
                     error=ValueError("x"), handler_called=True),
        "x": Handled(Outcome.DEAD_LETTERED, reason="not an envelope: a JSON list"),
    }


def test_results_of_done_inputs_are_sent_and_the_dead_letters_listed() -> None:
    h = handled()
    assert [(o.source_key, o.target) for o in settle.outgoing(h)] == [
        ("ok", "b"), ("ok", "c"), ("d", "errors")]
    assert settle.letters(h) == [("x", "not an envelope: a JSON list")]


def test_only_a_failed_handler_stays_when_every_send_worked() -> None:
    h = handled()
    assert settle.retained(h, NO_FAILURES) == {"f": "handler raised ValueError: x"}
    result = settle.settle("a", h, NO_FAILURES)
    assert [(x.message_id, x.outcome) for x in result.lines] == [
        ("ok", Outcome.SUCCEEDED), ("d", Outcome.DIVERTED), ("f", Outcome.FAILED),
        ("x", Outcome.DEAD_LETTERED)]
    assert result.counts == settle.Counts(handled=3, succeeded=2, failed=1, dead_lettered=1)
    assert [x.failed for x in result.lines] == [False, False, True, False]
    assert [x.handler_called for x in result.lines] == [True, True, True, False]


def test_a_failed_delivery_or_dead_letter_send_keeps_its_input_with_the_reason() -> None:
    h = handled()
    sent = settle.Sent({"ok": "send to 'c' failed: boom"}, {"x": "dead-letter send failed: no"})
    assert settle.retained(h, sent) == {
        "ok": "send to 'c' failed: boom",
        "f": "handler raised ValueError: x",
        "x": "dead-letter send failed: no",
    }
    result = settle.settle("a", h, sent)
    outcomes = {x.message_id: (x.outcome, x.reason) for x in result.lines}
    assert outcomes["ok"] == (Outcome.FAILED, "send to 'c' failed: boom")
    assert outcomes["x"] == (Outcome.FAILED, "dead-letter send failed: no")
    assert result.counts == settle.Counts(handled=3, succeeded=1, failed=3, dead_lettered=0)


def test_a_delivery_failure_of_an_input_with_nothing_to_deliver_changes_nothing() -> None:
    # A failure reported for an input that was dead-lettered, not delivered, is not its own.
    h = handled()
    sent = settle.Sent({"x": "send failed"}, {"ok": "dead-letter send failed"})
    assert settle.retained(h, sent) == {"f": "handler raised ValueError: x"}


def test_a_settled_input_whose_delete_failed_is_logged_so_and_counted_as_settled() -> None:
    result = settle.settle("a", handled(), NO_FAILURES, undeleted={"ok", "x"})
    outcomes = {x.message_id: x.outcome for x in result.lines}
    assert outcomes == {"ok": Outcome.DELETE_FAILED, "d": Outcome.DIVERTED,
                        "f": Outcome.FAILED, "x": Outcome.DELETE_FAILED}
    assert result.counts == settle.Counts(handled=3, succeeded=2, failed=1, dead_lettered=1)


def test_released_messages_are_lines_of_their_own() -> None:
    [line] = settle.released("a", ["m1"])
    assert (line.component, line.message_id, line.outcome) == ("a", "m1", Outcome.RELEASED)
    assert not line.handler_called and line.trace_id is None


def test_a_failure_on_the_last_allowed_receive_is_dead_lettered_with_its_reason() -> None:
    failed = handled()["f"]
    assert settle.last_attempt_reason(failed, 1, 3) is None
    assert settle.last_attempt_reason(failed, 3, 3) == (
        "handler raised ValueError: x (receive 3 of 3)")
    assert settle.last_attempt_reason(handled()["ok"], 3, 3) is None


def test_a_handler_outliving_its_last_receive_is_dead_lettered_with_a_reason() -> None:
    assert settle.outlived("a", "m1", 2, 3) is None  # held back: it comes again
    verdict = settle.outlived("a", "m1", 3, 3)
    assert verdict is not None
    reason, line = verdict
    assert reason == "handler still running when the invocation's time ran out (receive 3 of 3)"
    assert (line.message_id, line.outcome, line.reason, line.handler_called, line.failed) == (
        "m1", Outcome.DEAD_LETTERED, reason, True, True)
