"""Pure decisions of a deploy and of a delete, as plans: a plan is a list of steps
(`switchover_steps`) decided on plain data (queues deployed and desired, message counts, the
control value, stack states, times). `switchover` reads the inputs from AWS and executes the steps;
`preview` renders the same plan for `lcbuild plan`. No AWS here.

A deploy's plan has two phases, each planned just before it runs, on what AWS says then:
`plan_begin` (before the queues stack changes: refuse, wait out a queue-name cooldown, pause)
and `plan_finish` (after the new functions are in place: wait for the old version, move, remove,
resume). Pausing and resuming set the control value and make the event source mappings follow it
(`mappings`). `plan_deploy` is both, planned together now: what `lcbuild plan` shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from lambda_complex.builder.app.model import App, Component
from lambda_complex.builder.cfn import common
from lambda_complex.builder.cfn.common import DLQ, INFLIGHT, INPUT, QueueSpec
from lambda_complex.builder.deploy import mappings
from lambda_complex.builder.deploy.mappings import MappingState
from lambda_complex.builder.deploy.switchover_steps import (
    CreateQueue,
    DeleteQueue,
    KeepQueue,
    Move,
    OldInvocations,
    Plan,
    Refuse,
    Removal,
    RemoveQueues,
    SetControl,
    SetMappings,
    SkipSwitchover,
    Step,
    TickSchedule,
    WaitForOldInvocations,
    WaitForQueueNames,
)
from lambda_complex.runtime import control, names
from lambda_complex.runtime.inflight import LEASE_MARGIN_S

# The dispatch switch's values. The runtime dispatches only while it reads `running`, so the
# switchover hook's `deploying` pauses too, and tells a deploy's pause from a user's.
RUNNING, PAUSED, DEPLOYING = control.RUNNING, control.PAUSED, control.DEPLOYING

FORCE_REMOVE_ENV = "LCBUILD_FORCE_REMOVE"

NOTHING_RUNS = OldInvocations(0, 0)  # an application without components that could still run

# Why a queue's messages move (shown by `lcbuild plan`).
RENAMED, COMPONENT_REMOVED, APP_DELETED = "renamed", "component removed", "application deleted"


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


def old_invocations(app: App) -> OldInvocations:
    def longest(components: list[Component]) -> int:
        # The margin covers an invocation queued before it started.
        return max(c.lambda_.timeout for c in components) + LEASE_MARGIN_S if components else 0

    senders = [c for c in app.components if not c.has_queue and any(
        app.component(t).has_queue for t in c.routing.possible_targets(app.component_names))]
    return OldInvocations(longest([c for c in app.components if c.has_queue]), longest(senders))


def old_invocations_ended(bounds: OldInvocations, waited_s: float, running: int) -> bool:
    """Whether the old version's invocations have surely ended, `waited_s` after the new
    functions were in place, with `running` lease tokens still taken."""
    counted_done = waited_s >= bounds.counted_s or running == 0
    return counted_done and waited_s >= bounds.uncounted_s


# --- the inputs ---

@dataclass(frozen=True)
class DeployInputs:
    """What a deploy's plan is decided on, read from AWS by `switchover.read_inputs`."""

    app: str
    queues_stack: str
    control_parameter: str
    control: str | None  # None: the coordinator stack (which creates it) is not deployed
    desired: tuple[QueueSpec, ...]
    deployed: tuple[DeployedQueue, ...] | None  # None: the queues stack is not deployed
    retiring: tuple[DeployedQueue, ...] = ()  # deployed, no longer desired
    counts: Mapping[str, Counts] = field(default_factory=dict)  # the retiring queues'
    force_remove: bool = False
    notify: bool = False  # deployment.switchover is set
    bounds: OldInvocations = NOTHING_RUNS
    functions_updated: datetime | None = None  # None: the functions stack is not deployed
    failed_stacks: tuple[str, ...] = ()  # of this deploy
    queues_deleted_at: datetime | None = None
    now: datetime | None = None
    mappings: tuple[MappingState, ...] = ()  # of the functions `mappings.functions_of` names
    native: tuple[str, ...] = ()  # the desired components that `dispatch: native`


def control_before_deploy(current: str | None) -> str | None:
    """Pause a running application for the deploy; leave a user's pause alone."""
    if current in (RUNNING, DEPLOYING):
        return DEPLOYING
    return None


def control_after_deploy(current: str | None) -> str | None:
    """Resume only what the deploy paused."""
    return RUNNING if current == DEPLOYING else None


def control_before_delete(current: str | None) -> str | None:
    return PAUSED if current else None


def set_control(parameter: str, current: str | None, new: str | None) -> list[Step]:
    """The step that changes the control value, if it changes."""
    if current is None or new is None or new == current:
        return []
    return [SetControl(parameter, current, new)]


def set_mappings(parameter: str, seen: Sequence[MappingState], control_value: str | None
                 ) -> list[Step]:
    """The step that makes the mappings follow `control_value` (the value the control will
    read), if any of those seen needs it."""
    enabled = mappings.wanted(control_value)
    if enabled is None:
        return []
    changing = mappings.to_change(seen, enabled)
    return [SetMappings(parameter, enabled, changing)] if changing else []


def pause_for_deploy(i: DeployInputs) -> list[Step]:
    after = control_before_deploy(i.control) or i.control
    return [*set_control(i.control_parameter, i.control, after),
            *set_mappings(i.control_parameter, i.mappings, after)]


def resume_after_deploy(parameter: str, current: str | None,
                        seen: Sequence[MappingState]) -> list[Step]:
    """Resume only what the deploy paused; the mappings follow the control value (a user's
    pause keeps them disabled, a mapping the deploy created enabled too)."""
    after = control_after_deploy(current) or current
    return [*set_control(parameter, current, after), *set_mappings(parameter, seen, after)]


FAILED_SUFFIXES = ("FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_IN_PROGRESS")


def stack_failed(status: str | None) -> bool:
    return status is not None and status.endswith(FAILED_SUFFIXES)


def failed_in_this_deploy(status: str, updated: datetime, since: datetime | None) -> bool:
    """A stack failed or rolled back, at or after `since` (None: whenever)."""
    return stack_failed(status) and (since is None or updated >= since)


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


# --- the planners ---

def _successors(i: DeployInputs) -> dict[str, QueueSpec]:
    """Desired queues by the identity of the queue each takes over (its own included)."""
    successors = {old: spec for spec in i.desired for old in spec.succeeds[1:]}
    successors.update({spec.identity: spec for spec in i.desired})  # a name in use wins
    return successors


def _switch(i: DeployInputs, force_remove: bool) -> tuple[list[Move], list[Removal], list[str]]:
    """What each retiring queue becomes. One with a successor (same component identity and
    kind, another name; or the queue of a component that a desired one lists in
    `renamed_from`) hands its messages over; an input queue without one belongs to a removed
    component: refused while it holds messages unless `force_remove`, and then its messages go
    to its dead-letter queue (kept while not empty; `lcbuild redrive --queue` reaches it)."""
    successors = _successors(i)
    moves: list[Move] = []
    removals: list[Removal] = []
    refusals: list[str] = []
    for queue in sorted(i.retiring, key=lambda q: (q.component, q.kind)):
        successor = successors.get(queue.identity)
        held = i.counts.get(queue.name, Counts()).total
        if queue.kind == INFLIGHT:
            removals.append(Removal(queue.name, queue.logical_id, "always"))
        elif successor is not None:
            moves.append(Move(queue.name, successor.name, held, RENAMED,
                              notify=i.notify and queue.kind == INPUT))
            removals.append(Removal(queue.name, queue.logical_id, "drained"))
        elif queue.kind == INPUT:
            if held and not force_remove:
                refusals.append(
                    f"component '{queue.component}' is removed but its queue {queue.name} holds "
                    f"{held} message(s): drain it first, or set {FORCE_REMOVE_ENV}=1 to move "
                    "them to its dead-letter queue")
            dlq = next((q for q in i.retiring if q.component == queue.component and q.kind == DLQ),
                       None)
            if dlq is not None:
                moves.append(Move(queue.name, dlq.name, held, COMPONENT_REMOVED))
            removals.append(Removal(queue.name, queue.logical_id, "drained"))
        else:
            removals.append(Removal(queue.name, queue.logical_id, "empty"))
    return moves, removals, refusals


def plan_begin(i: DeployInputs) -> Plan:
    """Before the queues stack changes: refuse what would lose messages (and then nothing
    else), wait out SQS's queue-name cooldown after a recent delete, pause dispatching."""
    deployed = i.deployed is not None
    _, _, refusals = _switch(i, i.force_remove)
    if refusals:
        return Plan(i.app, deployed, tuple(Refuse(r) for r in refusals))
    steps: list[Step] = []
    if i.deployed is None and i.now is not None:
        wait = queue_name_cooldown_s(i.queues_deleted_at, i.now)
        if wait > 0:
            steps.append(WaitForQueueNames(i.queues_stack, wait))
    steps += pause_for_deploy(i)
    have = {q.name for q in i.deployed or ()}
    steps += [CreateQueue(spec.name) for spec in i.desired if spec.name not in have]
    return Plan(i.app, deployed, tuple(steps))


def plan_finish(i: DeployInputs) -> Plan:
    """After the new functions are in place: unless a stack of this deploy failed (then the old
    version keeps running), wait for the old version's invocations when a queue moves (they may
    still send to the old names), move the retiring queues' messages, remove the retiring
    queues, resume, tick the coordinator's schedule (unless a user's pause holds). Nothing is
    refused here: `begin` refused what it had to, and what arrived in a removed component's
    queue since goes to its dead-letter queue."""
    deployed = i.deployed is not None
    resume = resume_after_deploy(i.control_parameter, i.control, i.mappings)
    if not control.value_means_paused(control_after_deploy(i.control) or i.control):
        resume.append(TickSchedule(names.function_name(i.app, names.COORDINATOR)))
    if i.failed_stacks:
        reason = (f"not switching over: {', '.join(i.failed_stacks)}; "
                  "the old version keeps running")
        return Plan(i.app, deployed, (SkipSwitchover(reason), *resume))
    moves, removals, _ = _switch(i, force_remove=True)
    steps: list[Step] = []
    bounds = i.bounds
    if moves and i.functions_updated is not None and max(bounds.counted_s, bounds.uncounted_s):
        leases = tuple(q.name for q in i.deployed or () if q.kind == INFLIGHT)
        steps.append(WaitForOldInvocations(leases, bounds, i.functions_updated,
                                           batch_queues(i)))
    steps += moves
    if removals:
        steps.append(RemoveQueues(i.queues_stack, tuple(removals)))
    return Plan(i.app, deployed, (*steps, *resume))


def batch_queues(i: DeployInputs) -> tuple[str, ...]:
    """The input queues whose messages not visible are batches of a native component's mapping
    in flight: the desired native components' queues and the retiring queues they take over."""
    successors = _successors(i)
    native = [spec.name for spec in i.desired if spec.kind == INPUT and spec.component in i.native]
    native += [q.name for q in i.retiring if q.kind == INPUT and q.identity in successors
               and successors[q.identity].component in i.native]
    return tuple(sorted(set(native)))


def plan_deploy(i: DeployInputs) -> Plan:
    """Both phases, planned now (`lcbuild plan`): `finish` as it would see the control value
    `begin` leaves (the control value and the mappings), and the functions updated by this
    deploy (`since` unknown yet)."""
    begin = plan_begin(i)
    if begin.refused:
        return begin
    paused = next((s.new for s in begin.steps if isinstance(s, SetControl)), i.control)
    seen = i.mappings
    for step in begin.steps:
        if isinstance(step, SetMappings):
            seen = mappings.after_update(seen, step.enabled)
    finish = plan_finish(replace(i, control=paused, failed_stacks=(), mappings=seen))
    steps = [replace(s, since=None) if isinstance(s, WaitForOldInvocations) else s
             for s in finish.steps]
    return Plan(i.app, begin.deployed, (*begin.steps, *steps))


def removable(removal: Removal, held: Counts | None) -> bool:
    """Decided after the moves, on counts read then (None: the queue is gone already)."""
    return removal.when == "always" or held is None or held.total == 0


def template_without(template: dict[str, Any], logical_ids: Sequence[str]) -> dict[str, Any]:
    """The deployed queues template without the removed queues (nothing else changes)."""
    gone = set(logical_ids)
    return {**template, "Resources": {k: v for k, v in template.get("Resources", {}).items()
                                      if k not in gone}}


@dataclass(frozen=True)
class DeleteInputs:
    app: str
    control_parameter: str
    control: str | None
    deployed: tuple[DeployedQueue, ...]
    counts: Mapping[str, Counts]  # the input queues'
    force_remove: bool
    mappings: tuple[MappingState, ...] = ()


def plan_delete(i: DeleteInputs) -> Plan:
    """Before `sceptre delete`: refuse while input queues hold messages, unless forced; then
    stop dispatching (the mappings too) and move every input queue's messages to its
    dead-letter queue, which the stack retains (the empty ones too: what arrives before the
    stack is gone is kept)."""
    inputs = sorted((q for q in i.deployed if q.kind == INPUT), key=lambda q: q.name)
    busy = {q.name: i.counts[q.name].total for q in inputs
            if q.name in i.counts and i.counts[q.name].total}
    if busy and not i.force_remove:
        listing = ", ".join(f"{n} ({c} message(s))" for n, c in sorted(busy.items()))
        return Plan(i.app, True, (Refuse(
            f"refusing to delete {i.app}: queues still hold messages: {listing}; drain them, "
            f"or set {FORCE_REMOVE_ENV}=1 to move them to their dead-letter queues"),))
    paused = control_before_delete(i.control)
    steps: list[Step] = [*set_control(i.control_parameter, i.control, paused),
                         *set_mappings(i.control_parameter, i.mappings, paused)]
    dlqs = {q.component: q.name for q in i.deployed if q.kind == DLQ}
    steps += [Move(q.name, dlqs[q.component], busy.get(q.name, 0), APP_DELETED)
              for q in inputs if q.component in dlqs]
    return Plan(i.app, True, tuple(steps))


def retained_queues(deployed: Sequence[DeployedQueue]) -> list[str]:
    """The queues a stack deletion leaves (DeletionPolicy Retain): the dead-letter queues."""
    return [q.name for q in deployed if q.kind == DLQ]


def plan_after_delete(app: str, held: Mapping[str, Counts | None]) -> Plan:
    """After the stacks are gone: delete the retained queues that are empty, keep the others
    (`held`: None for a queue that is gone already)."""
    steps: list[Step] = []
    for name, counts in sorted(held.items()):
        if counts is None:
            continue
        steps.append(KeepQueue(name, counts.total) if counts.total else DeleteQueue(name))
    return Plan(app, False, tuple(steps))
