"""Settling handled inputs: the one step both component types share, as pure decisions.

Once its handler has run, an input is settled: its results are delivered (SendMessageBatch to
queues, asynchronous Invoke of invocation components) or it goes to its component's dead-letter
queue, and then, for a queue message, it is deleted. The edges make those calls (`batch` for the
messages of an `event_from_message` invocation, `records` for an event source mapping's batch,
whose deletes Lambda makes, `wrapper` for an `event_from_invocation` event); what to call, and
what the answers mean, is decided here from data alone:

- `outgoing`: the results to deliver (of inputs that succeeded, or whose failure a routing
  function diverted); `letters`: the inputs to dead-letter, with their reasons;
- `retained`: the inputs that stay for redelivery, with why: the handler failed, or a delivery
  or a dead-letter send did (nothing of an input is lost: it is retried). All others are done and
  deleted;
- `settle`: the final outcome of every input (its message log line) and the counts of the
  invocation's summary, once the deletes answered too (a settled input whose delete failed is
  `delete_failed`: it will be redelivered, at-least-once);
- `last_attempt_reason`: before all that, a queue message whose handler failed on its last
  allowed receive is dead-lettered at once with the failure as its reason, not left for SQS's
  redrive, which keeps no reason;
- `to_send_again`: a message handed back unstarted on its last allowed receive is sent to its
  queue again as a new message (and the one received deleted): handed back as it is, the redrive
  would move it at its next receive, never tried and with no reason.

Outcomes are `protocol.Outcome` values and flags of `handling.Handled`; nothing here (or in
the edges) reads a reason's text: reasons are for people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from typing import NamedTuple, Protocol, TypeVar

from .protocol import DONE, MessageLine, Outcome

O_co = TypeVar("O_co", covariant=True)


class Handled(Protocol[O_co]):
    """What `handling` made of one input (`handling.Handled`), as far as settling reads it:
    stated here so that this module depends on nothing but the protocol."""

    @property
    def outcome(self) -> Outcome: ...
    @property
    def outgoing(self) -> Sequence[O_co]: ...  # the results to deliver (`delivery.Outgoing`)
    @property
    def reason(self) -> str | None: ...
    @property
    def trace_id(self) -> str | None: ...
    @property
    def hops(self) -> int | None: ...
    @property
    def duration_ms(self) -> float: ...
    @property
    def handler_called(self) -> bool: ...
    @property
    def failed_call(self) -> bool: ...


class Sent(NamedTuple):
    """What the sends answered: input key -> reason, for each input a send failed for."""

    delivery_failed: Mapping[str, str]
    dead_letter_failed: Mapping[str, str]


class Counts(NamedTuple):
    handled: int = 0  # handler calls
    succeeded: int = 0  # done: results routed (or nothing to route), deleted or due to be
    failed: int = 0  # left for redelivery
    dead_lettered: int = 0  # sent to the dead-letter queue by the wrapper

    def as_dict(self) -> dict[str, int]:
        return dict(self._asdict())


class Settlement(NamedTuple):
    lines: list[MessageLine]  # one per input, in the order given
    counts: Counts


def outgoing(handled: Mapping[str, Handled[O_co]]) -> list[O_co]:
    return [o for h in handled.values() if h.outcome in DONE for o in h.outgoing]


def letters(handled: Mapping[str, Handled[object]]) -> list[tuple[str, str]]:
    """(input key, reason) of every input due for the dead-letter queue."""
    return [(key, h.reason or "") for key, h in handled.items()
            if h.outcome == Outcome.DEAD_LETTERED]


def _final(key: str, h: Handled[object], sent: Sent) -> tuple[Outcome, str | None]:
    """An input's outcome once its sends answered, and why."""
    if h.outcome in DONE and key in sent.delivery_failed:
        return Outcome.FAILED, sent.delivery_failed[key]
    if h.outcome == Outcome.DEAD_LETTERED and key in sent.dead_letter_failed:
        return Outcome.FAILED, sent.dead_letter_failed[key]
    return h.outcome, h.reason


def retained(handled: Mapping[str, Handled[object]], sent: Sent) -> dict[str, str | None]:
    """Inputs left for redelivery (key -> reason); every other input is to be deleted."""
    finals = {key: _final(key, h, sent) for key, h in handled.items()}
    return {key: reason for key, (outcome, reason) in finals.items()
            if outcome == Outcome.FAILED}


def settle(
    component: str,
    handled: Mapping[str, Handled[object]],
    sent: Sent,
    undeleted: Set[str] = frozenset(),
) -> Settlement:
    """Final outcomes (as log lines) and counts. `undeleted`: inputs whose delete failed."""
    lines: list[MessageLine] = []
    counts = {"handled": 0, "succeeded": 0, "failed": 0, "dead_lettered": 0}
    for key, h in handled.items():
        outcome, reason = _final(key, h, sent)
        counts["handled"] += int(h.handler_called)
        if outcome == Outcome.FAILED:
            counts["failed"] += 1
        elif outcome == Outcome.DEAD_LETTERED:
            counts["dead_lettered"] += 1
        else:
            counts["succeeded"] += 1
        logged = Outcome.DELETE_FAILED if key in undeleted else outcome
        lines.append(MessageLine(
            component, h.trace_id, key, logged, h.duration_ms, reason=reason, hops=h.hops,
            handler_called=h.handler_called, failed=h.failed_call,
        ))
    return Settlement(lines, Counts(**counts))


def receives_left(count: int, max_receive_count: int) -> bool:
    """Whether a message received `count` times may come back without the queue's redrive
    moving it, with no reason, to the dead-letter queue ("after the value of maxReceiveCount is
    exceeded": https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html)."""
    return count < max_receive_count


def to_send_again(counts: Mapping[str, int], max_receive_count: int) -> list[str]:
    """Of the messages handed back unstarted (key -> receive count), those to send again as new
    messages: the ones on their last allowed receive. Only a message that was not started is
    sent again, so a message that fails or hangs still reaches the dead-letter queue."""
    return [key for key, count in counts.items() if not receives_left(count, max_receive_count)]


SENT_AGAIN_REASON = "not started on its last allowed receive: sent to its queue again"


def released(component: str, keys: Iterable[str], sent_again: Set[str] = frozenset()
             ) -> list[MessageLine]:
    """The lines of messages handed back unhandled (time ran short); those in `sent_again` went
    back as new messages."""
    return [MessageLine(component, None, key, Outcome.RELEASED, 0.0,
                        SENT_AGAIN_REASON if key in sent_again else None) for key in keys]


def outlived(component: str, key: str, count: int, max_receive_count: int
             ) -> tuple[str, MessageLine] | None:
    """A message whose handler is still running as its invocation's time runs out, on its last
    allowed receive: the dead-letter reason and its line; None on an earlier receive (it is held
    back and comes again). Dead-lettering it here gives it a reason; left to SQS's redrive it
    would arrive in the dead-letter queue with none."""
    if receives_left(count, max_receive_count):
        return None
    reason = _outlived_reason(count, max_receive_count)
    return reason, MessageLine(component, None, key, Outcome.DEAD_LETTERED, 0.0, reason,
                               handler_called=True, failed=True)


def still_running(component: str, key: str, count: int, max_receive_count: int) -> MessageLine:
    """The line of a message left for redelivery because its handler was still running as the
    invocation's time ran out (an event source mapping's record, reported back)."""
    return MessageLine(component, None, key, Outcome.FAILED, 0.0,
                       _outlived_reason(count, max_receive_count),
                       handler_called=True, failed=True)


def _outlived_reason(count: int, max_receive_count: int) -> str:
    return (f"handler still running when the invocation's time ran out "
            f"(receive {count} of {max_receive_count})")


def last_attempt_reason(handled: Handled[object], count: int, max_receive_count: int) -> str | None:
    """The dead-letter reason of a queue message that failed on its last allowed receive (its
    `count`-th), else None."""
    if handled.outcome != Outcome.FAILED or receives_left(count, max_receive_count):
        return None
    return f"{handled.reason} (receive {count} of {max_receive_count})"
