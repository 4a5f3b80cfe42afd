"""Switchover around `sceptre launch` / `sceptre delete`: read the inputs from AWS, plan
(`switchover_plan`, pure), execute the plan's steps (`Aws` calls). What each phase does is the
planners' docstrings'; here is only how a step is carried out.

Counts change between planning and acting (an old invocation sends one more result; a producer
sends during the drain), so the executor re-reads what a step depends on when it runs it, and
the re-read can only keep more, never lose anything:
- `Move` drains until the source counts no message (messages held by a running invocation are
  waited for, up to DRAIN_TIMEOUT_S); each message is deleted from the source only after its
  send succeeded (at-least-once: a crash between the two duplicates it, never loses it).
- `RemoveQueues` re-reads each retiring queue's counts after the moves: one that still holds
  messages is kept in the queues stack (the render carries it over) for the next deploy.
- `SetControl` re-reads the control value and changes it only if it is still the planned one,
  so a `lcbuild pause` during the deploy wins.
- `SetMappings` re-reads the control value and changes the mappings the plan listed only if
  that value still calls for it (`mappings.wanted`); it runs after `SetControl`.
- `TickSchedule` is best effort: a refused invoke is a warning, as the rule's next tick does the
  same within a minute.
- `WaitForOldInvocations` re-reads the lease queues (and the native components' input queues)
  every second: that is what it waits on.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, queues
from lambda_complex.builder.deploy import mappings, switchover_plan
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.mappings import MappingChange
from lambda_complex.builder.deploy.switchover_plan import (
    FORCE_REMOVE_ENV,
    Counts,
    DeleteInputs,
    DeployedQueue,
    DeployInputs,
)
from lambda_complex.builder.deploy.switchover_steps import (
    CreateQueue,
    DeleteQueue,
    KeepQueue,
    Move,
    Plan,
    Refuse,
    RemoveQueues,
    SetControl,
    SetMappings,
    SkipSwitchover,
    TickSchedule,
    WaitForOldInvocations,
    WaitForQueueNames,
)
from lambda_complex.builder.errors import UserError
from lambda_complex.runtime import names, protocol

log = logging.getLogger("lambda_complex.deploy")

DRAIN_TIMEOUT_S = 120.0  # waiting for messages an old invocation still holds (not visible)

Sleep = Callable[[float], None]


def force_remove_from_env() -> bool:
    return os.environ.get(FORCE_REMOVE_ENV, "").lower() in ("1", "true", "yes")


class SwitchoverRefused(UserError):
    pass


@dataclass
class Report:
    """What executing a plan did."""

    moved: dict[str, int] = field(default_factory=dict)  # source queue name -> messages moved
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # queues kept because they hold messages
    skipped: str | None = None  # why nothing was switched (a stack failed)
    mappings: list[MappingChange] = field(default_factory=list)  # those updated


# --- reading the inputs ---

def queues_template(app: App, aws: Aws) -> dict[str, Any] | None:
    """The deployed queues stack's template (None: not deployed)."""
    return aws.deployed_template(common.stack_name(app, common.QUEUES))


def deployed_queues(deployed: dict[str, Any] | None) -> list[DeployedQueue]:
    return [DeployedQueue.from_resource(k, v)
            for k, v in queues.deployed_queue_resources(deployed).items()]


def retiring(app: App, deployed: dict[str, Any] | None) -> list[DeployedQueue]:
    """Queues deployed but no longer asked for."""
    found = queues.retiring_resources(app, deployed)
    return [DeployedQueue.from_resource(k, v) for k, v in found.items()]


def counts_of(aws: Aws, names_: list[str]) -> dict[str, Counts | None]:
    """Messages per queue name; None for a queue that does not exist."""
    found: dict[str, Counts | None] = {}
    for name in names_:
        url = aws.queue_url(name)
        found[name] = aws.counts(url) if url else None
    return found


def _held(aws: Aws, names_: list[str]) -> dict[str, Counts]:
    return {k: v or Counts() for k, v in counts_of(aws, names_).items()}


def queues_stack_deleted_at(app: App, aws: Aws) -> datetime | None:
    """When the app's queues stack was last deleted (ListStacks keeps deleted stacks ~90 days)."""
    name = common.stack_name(app, common.QUEUES)
    latest: datetime | None = None
    for page in aws.cfn.get_paginator("list_stacks").paginate(
            StackStatusFilter=["DELETE_COMPLETE"]):
        for summary in page.get("StackSummaries", []):
            deleted = summary.get("DeletionTime")
            if summary.get("StackName") == name and deleted and (latest is None
                                                                 or deleted > latest):
                latest = deleted
    return latest


def stacks_failed(app: App, aws: Aws, since: datetime | None) -> list[str]:
    failed = []
    for stack in common.STACKS:
        info = aws.stack(common.stack_name(app, stack))
        if info is not None and switchover_plan.failed_in_this_deploy(info.status, info.updated,
                                                                      since):
            failed.append(f"{info.name} ({info.status})")
    return failed


def _control(app: App, aws: Aws) -> tuple[str, str | None]:
    name = names.control_parameter_name(app.name)
    current = aws.get_parameter(name)
    return name, current.value if current else None


def read_inputs(app: App, aws: Aws, force_remove: bool) -> DeployInputs:
    """Everything a deploy's plan is decided on, as AWS says it now."""
    template = queues_template(app, aws)
    old = retiring(app, template)
    parameter, current = _control(app, aws)
    functions = aws.stack(common.stack_name(app, common.FUNCTIONS))
    mapped = mappings.functions_of(app, {q.component for q in old if q.kind == common.INPUT})
    return DeployInputs(
        app=app.name, queues_stack=common.stack_name(app, common.QUEUES),
        control_parameter=parameter, control=current,
        desired=tuple(queues.desired_queues(app)),
        deployed=None if template is None else tuple(deployed_queues(template)),
        retiring=tuple(old), counts=_held(aws, [q.name for q in old]),
        force_remove=force_remove, notify=app.deployment.switchover is not None,
        bounds=switchover_plan.old_invocations(app),
        functions_updated=functions.updated if functions else None,
        # ListStacks is read only when it matters: a launch that creates the queues.
        queues_deleted_at=queues_stack_deleted_at(app, aws) if template is None else None,
        now=datetime.now(UTC), mappings=tuple(aws.mappings(mapped)),
        native=tuple(c.name for c in app.components if c.native))


# --- the phases ---

def begin(app: App, aws: Aws, force_remove: bool) -> Plan:
    """Before the queues stack changes (raises SwitchoverRefused, changing nothing)."""
    plan = switchover_plan.plan_begin(read_inputs(app, aws, force_remove))
    execute(app, aws, plan)
    return plan


def finish(app: App, aws: Aws, since: datetime | None = None) -> Report:
    """After the coordinator stack; `since`: when this deploy began (None: any failed stack
    counts)."""
    inputs = replace(read_inputs(app, aws, force_remove=True),
                     failed_stacks=tuple(stacks_failed(app, aws, since)))
    return execute(app, aws, switchover_plan.plan_finish(inputs))


def restore(app: App, aws: Aws) -> None:
    """Resume what a deploy paused (at exit of a deploy that did not finish)."""
    parameter, current = _control(app, aws)
    steps = switchover_plan.resume_after_deploy(parameter, current,
                                                aws.mappings(mappings.functions_of(app)))
    execute(app, aws, Plan(app.name, True, tuple(steps)))


def before_delete(app: App, aws: Aws, force_remove: bool) -> list[str]:
    """Before `sceptre delete` (raises SwitchoverRefused, changing nothing); returns the queues
    the deletion retains, for `after_delete`."""
    deployed = deployed_queues(queues_template(app, aws))
    parameter, current = _control(app, aws)
    inputs = DeleteInputs(app.name, parameter, current, tuple(deployed),
                          _held(aws, [q.name for q in deployed if q.kind == common.INPUT]),
                          force_remove, tuple(aws.mappings(mappings.functions_of(
                              app, {q.component for q in deployed if q.kind == common.INPUT}))))
    execute(app, aws, switchover_plan.plan_delete(inputs))
    return switchover_plan.retained_queues(deployed)


def after_delete(app: App, aws: Aws, retained: list[str]) -> list[str]:
    """Delete the retained queues that are empty; returns those kept."""
    plan = switchover_plan.plan_after_delete(app.name, counts_of(aws, retained))
    return execute(app, aws, plan).kept


# --- executing a plan ---

def execute(app: App, aws: Aws, plan: Plan, sleep: Sleep = time.sleep) -> Report:
    """Carry out the steps in order; a plan with refusals raises before doing anything."""
    if plan.refused:
        raise SwitchoverRefused("; ".join(plan.refused))
    notify = any(isinstance(s, Move) and s.notify for s in plan.steps)
    user_fn = load_callable(app) if notify else None  # fails before anything moves
    report = Report()
    for step in plan.steps:
        match step:
            case Refuse() | CreateQueue():
                pass  # refusals raised above; CloudFormation creates the queues
            case WaitForQueueNames():
                log.warning("%s was deleted moments ago and SQS reuses a queue name only 60 s "
                            "after its queue is deleted: waiting %.0f s before creating the "
                            "queues", step.stack, step.seconds)
                sleep(step.seconds)
            case SetControl():
                _set_control(aws, step)
            case SetMappings():
                report.mappings += set_mappings(aws, step)
            case TickSchedule():
                tick_schedule(aws, step)
            case SkipSwitchover():
                log.warning(step.reason)
                report.skipped = step.reason
            case WaitForOldInvocations():
                wait_for_old_invocations(aws, step, sleep)
            case Move():
                report.moved[step.source] = _move(aws, step, user_fn)
            case RemoveQueues():
                _remove(aws, step, report)
            case DeleteQueue():
                url = aws.queue_url(step.name)
                if url is not None:
                    aws.delete_queue(url)
                    report.removed.append(step.name)
            case KeepQueue():
                report.kept.append(step.name)
    return report


def tick_schedule(aws: Aws, step: TickSchedule) -> None:
    try:
        # One try: the rule's own tick is the retry.
        aws.invoke_event(step.function, json.dumps(protocol.SCHEDULE_INPUT).encode(), attempts=1)
    except ClientError as e:
        log.warning("could not start %s now (%s): its schedule starts it within a minute",
                    step.function, e.response.get("Error", {}).get("Code", e))


def _set_control(aws: Aws, step: SetControl) -> None:
    now = aws.get_parameter(step.parameter)
    if now is not None and now.value == step.current:
        aws.put_parameter(step.parameter, step.new)
        log.info("%s: %s -> %s", step.parameter, step.current, step.new)


def set_mappings(aws: Aws, step: SetMappings) -> list[MappingChange]:
    """Update the mappings the step lists, if the control value still calls for it."""
    now = aws.get_parameter(step.parameter)
    if mappings.wanted(now.value if now else None) is not step.enabled:
        return []
    changes = []
    for m in step.mappings:
        after = aws.set_mapping_enabled(m.uuid, step.enabled)
        if after is not None:  # None: deleted since it was read
            changes.append(MappingChange(m.uuid, m.function, m.queue, m.state, after, True))
            log.info("event source mapping %s (%s): %s -> %s", m.uuid, m.function, m.state,
                     after)
    return changes


def _move(aws: Aws, step: Move, user_fn: Callable[..., Any] | None) -> int:
    source, target = aws.queue_url(step.source), aws.queue_url(step.target)
    if source is None:
        return 0
    if target is None:
        raise UserError(f"switchover: target queue {step.target} does not exist")
    if step.notify and user_fn is not None:
        user_fn(source, target)
    return drain(aws, source, target)


def _remove(aws: Aws, step: RemoveQueues, report: Report) -> None:
    held = counts_of(aws, [r.name for r in step.queues])
    gone = [r for r in step.queues if switchover_plan.removable(r, held[r.name])]
    report.kept += [r.name for r in step.queues if r not in gone]
    template = aws.deployed_template(step.stack)
    if not gone or template is None:
        return
    status = aws.update_template(
        step.stack, switchover_plan.template_without(template, [r.logical_id for r in gone]))
    if switchover_plan.stack_failed(status):
        raise UserError(f"switchover: removing drained queues from {step.stack}: {status}")
    for r in gone:  # retained dead-letter queues are not deleted by CloudFormation
        url = aws.queue_url(r.name)
        if url is not None:
            aws.delete_queue(url)
    report.removed += [r.name for r in gone]


def load_callable(app: App) -> Callable[..., Any] | None:
    """deployment.switchover (`module:function`), imported with the project root on sys.path."""
    spec = app.deployment.switchover
    if spec is None:
        return None
    module_name, _, attr = spec.partition(":")
    root = str(app.root)
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
        fn = getattr(module, attr)
    except Exception as e:
        raise UserError(f"deployment.switchover: cannot import '{spec}': {e}") from e
    finally:
        if added:
            sys.path.remove(root)
    if not callable(fn):
        raise UserError(f"deployment.switchover: '{spec}' is not callable")
    return fn  # type: ignore[no-any-return]


def drain(aws: Aws, source_url: str, target_url: str, timeout_s: float = DRAIN_TIMEOUT_S) -> int:
    """Move every message; waits for messages still held by running invocations (not visible)."""
    moved = 0
    deadline = time.monotonic() + timeout_s
    while True:
        received, done = aws.move_batch(source_url, target_url)
        moved += done
        if received:
            continue
        if aws.counts(source_url).total == 0 or time.monotonic() > deadline:
            return moved
        time.sleep(1)


def wait_for_old_invocations(aws: Aws, step: WaitForOldInvocations,
                             sleep: Sleep = time.sleep) -> None:
    """Invocations of the old code, started before the new functions were in place
    (`step.since`), still send to the old queue names: wait until they have surely ended
    (`old_invocations_ended`, on the lease queues' counts read every second, and the native
    components' batches in flight: their input queues' messages not visible)."""
    urls = [url for url in map(aws.queue_url, (*step.lease_queues, *step.batch_queues)) if url]
    since = step.since or datetime.now(UTC)
    elapsed = (datetime.now(since.tzinfo) - since).total_seconds()
    start = time.monotonic()
    announced = False
    while True:
        waited = elapsed + time.monotonic() - start
        running = sum(aws.counts(url).not_visible for url in urls)
        if switchover_plan.old_invocations_ended(step.bounds, waited, running):
            return
        if not announced:
            log.info("waiting for invocations of the old version to finish (at most %d s) "
                     "before the last drain of the retiring queues",
                     max(step.bounds.counted_s, step.bounds.uncounted_s) - int(waited))
            announced = True
        sleep(1)
