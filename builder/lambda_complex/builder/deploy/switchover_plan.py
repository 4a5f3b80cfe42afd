"""Pure decisions of a deploy: what the switchover moves and removes, what it refuses, and how
the control parameter changes. No AWS here: the inputs are plain data read by `aws`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lambda_complex.builder.app.model import App, Component
from lambda_complex.builder.cfn import common
from lambda_complex.builder.cfn.common import DLQ, INFLIGHT, INPUT, QueueSpec
from lambda_complex.runtime import control
from lambda_complex.runtime.inflight import LEASE_MARGIN_S

# The dispatch switch's values. The runtime dispatches only while it reads `running`, so the
# switchover hook's `deploying` pauses too, and tells a deploy's pause from a user's.
RUNNING, PAUSED, DEPLOYING = control.RUNNING, control.PAUSED, control.DEPLOYING


@dataclass(frozen=True)
class Counts:
    visible: int = 0
    not_visible: int = 0
    delayed: int = 0

    @property
    def total(self) -> int:
        return self.visible + self.not_visible + self.delayed


@dataclass(frozen=True)
class DeployedQueue:
    """A queue resource of the deployed queues stack (from its Metadata)."""

    logical_id: str
    component: str
    kind: str
    identity: str
    name: str

    @classmethod
    def from_resource(cls, logical_id: str, resource: dict[str, Any]) -> DeployedQueue:
        meta = resource["Metadata"][common.METADATA_KEY]
        return cls(logical_id, str(meta["component"]), str(meta["kind"]), str(meta["identity"]),
                   str(meta.get("name") or resource["Properties"]["QueueName"]))


@dataclass(frozen=True)
class Move:
    """Move every message of `source` into `target` (queue names)."""

    source: DeployedQueue
    target: str
    replaced: bool  # True: a successor queue (user callable is told); False: to the DLQ


@dataclass
class SwitchoverPlan:
    moves: list[Move] = field(default_factory=list)
    remove: list[DeployedQueue] = field(default_factory=list)  # always, once moved
    remove_if_empty: list[DeployedQueue] = field(default_factory=list)  # dead-letter queues
    refusals: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.moves or self.remove or self.remove_if_empty)


def plan_switchover(retiring: list[DeployedQueue], desired: list[QueueSpec],
                    counts: dict[str, Counts], force_remove: bool) -> SwitchoverPlan:
    """`retiring`: queues deployed but no longer asked for; `counts`: messages per queue name.

    A retiring queue with a successor (same component identity and kind, another name; or the
    queue of a component that a desired one lists in `renamed_from`) hands its messages over; an
    input queue without one belongs to a removed component: refused while it holds messages
    unless `force_remove`, and then its messages go to its dead-letter queue (kept while not
    empty; `lcbuild redrive --queue` reaches it)."""
    successors = {old: spec for spec in desired for old in spec.succeeds[1:]}
    successors.update({spec.identity: spec for spec in desired})  # a name in use wins
    plan = SwitchoverPlan()
    for queue in sorted(retiring, key=lambda q: (q.component, q.kind)):
        successor = successors.get(queue.identity)
        if queue.kind == INFLIGHT:
            plan.remove.append(queue)  # lease tokens: transient, never moved
        elif successor is not None:
            plan.moves.append(Move(queue, successor.name, replaced=True))
            plan.remove.append(queue)
        elif queue.kind == INPUT:
            held = counts.get(queue.name, Counts()).total
            if held and not force_remove:
                plan.refusals.append(
                    f"component '{queue.component}' is removed but its queue {queue.name} holds "
                    f"{held} message(s): drain it first, or set LCBUILD_FORCE_REMOVE=1 to move "
                    "them to its dead-letter queue")
            dlq = next((q for q in retiring if q.component == queue.component and q.kind == DLQ),
                       None)
            if dlq is not None:
                plan.moves.append(Move(queue, dlq.name, replaced=False))
            plan.remove.append(queue)
        else:
            plan.remove_if_empty.append(queue)
    return plan


@dataclass(frozen=True)
class OldInvocations:
    """How long invocations of the old code may still run once the new functions are in place,
    in seconds from then. They may send to a retiring queue, so its last drain waits for them;
    dispatching is paused for the deploy, so they only finish, within their timeout."""

    counted_s: int  # message components': their lease queues tell when none runs, at most this
    uncounted_s: int  # invocation components that route to queues: no count, this is waited out


def old_invocations(app: App) -> OldInvocations:
    def longest(components: list[Component]) -> int:
        # The margin covers an invocation queued before it started.
        return max(c.lambda_.timeout for c in components) + LEASE_MARGIN_S if components else 0

    senders = [c for c in app.components if not c.has_queue and any(
        app.component(t).has_queue for t in c.routing.possible_targets(app.component_names))]
    return OldInvocations(longest([c for c in app.components if c.has_queue]), longest(senders))


def control_before_deploy(current: str | None) -> str | None:
    """Pause a running application for the deploy; leave a user's pause alone."""
    if current in (RUNNING, DEPLOYING):
        return DEPLOYING
    return None


def control_after_deploy(current: str | None) -> str | None:
    """Resume only what the deploy paused."""
    return RUNNING if current == DEPLOYING else None


FAILED_SUFFIXES = ("FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_IN_PROGRESS")


def stack_failed(status: str | None) -> bool:
    return status is not None and status.endswith(FAILED_SUFFIXES)


# "You must wait 60 seconds after deleting a queue before you can create another queue with the
# same name" (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html).
QUEUE_NAME_COOLDOWN_S = 60.0
# The delete hook removes the retained dead-letter queues just after the stack is gone.
DELETE_HOOK_SLACK_S = 15.0


def queue_name_cooldown_s(deleted_at: datetime | None, now: datetime) -> float:
    """Seconds a relaunch must wait before CloudFormation may create the queues again, after the
    queues stack was deleted at `deleted_at` (None: not recently, or never)."""
    if deleted_at is None:
        return 0.0
    ready = deleted_at + timedelta(seconds=QUEUE_NAME_COOLDOWN_S + DELETE_HOOK_SLACK_S)
    return max(0.0, (ready - now).total_seconds())
