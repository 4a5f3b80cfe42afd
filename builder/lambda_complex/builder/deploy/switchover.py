"""Switchover around `sceptre launch` / `sceptre delete`: plan (pure, `plan`), then act (`aws`).

begin   (before the queues stack changes): refuse removing a component whose queue holds messages
        (unless forced); pause dispatching (control parameter `deploying`).
finish  (after the coordinator stack, i.e. after the new functions are in place): unless a stack
        failed, wait for the old version's invocations to end (they may still send to the old
        queue names), then for each replaced queue call the user's
        `deployment.switchover(old_url, new_url)`, move the waiting messages old -> new
        (receive, send batch, delete only what was sent), then remove the drained queues from
        the queues stack; resume dispatching.
restore (at exit of the deploy process, whatever happened): resume what the deploy paused, so a
        failed deploy leaves the old version (rolled back by CloudFormation) running.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, queues
from lambda_complex.builder.deploy import switchover_plan as planning
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.switchover_plan import Counts, DeployedQueue, SwitchoverPlan
from lambda_complex.builder.errors import UserError
from lambda_complex.runtime import names

log = logging.getLogger("lambda_complex.deploy")

FORCE_REMOVE_ENV = "LCBUILD_FORCE_REMOVE"


def force_remove_from_env() -> bool:
    return os.environ.get(FORCE_REMOVE_ENV, "").lower() in ("1", "true", "yes")

DRAIN_TIMEOUT_S = 120.0  # waiting for messages an old invocation still holds (not visible)


class SwitchoverRefused(UserError):
    pass


@dataclass
class FinishReport:
    moved: dict[str, int] = field(default_factory=dict)  # source queue name -> messages moved
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # retiring queues kept (still hold messages)
    skipped: str | None = None  # why nothing was switched (a stack failed)


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


def _counts(aws: Aws, queues_: list[DeployedQueue]) -> dict[str, Counts]:
    counts: dict[str, Counts] = {}
    for q in queues_:
        url = aws.queue_url(q.name)
        counts[q.name] = aws.counts(url) if url else Counts()
    return counts


def plan_for(app: App, aws: Aws, deployed: dict[str, Any] | None,
             force_remove: bool) -> tuple[SwitchoverPlan, dict[str, Counts]]:
    """The plan, and the messages each retiring queue holds (what it was decided on)."""
    old = retiring(app, deployed)
    counts = _counts(aws, old)
    return planning.plan_switchover(old, queues.desired_queues(app), counts, force_remove), counts


def set_control(app: App, aws: Aws, decide: Callable[[str | None], str | None]) -> str | None:
    name = names.control_parameter_name(app.name)
    current = aws.get_parameter(name)
    new = decide(current.value if current else None)
    if current is not None and new is not None and new != current.value:
        aws.put_parameter(name, new)
        log.info("%s: %s -> %s", name, current.value, new)
    return new


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


def wait_for_queue_names(app: App, aws: Aws, deployed: dict[str, Any] | None,
                         sleep: Callable[[float], None] = time.sleep) -> float:
    """A launch right after `sceptre delete` would fail creating the queues (SQS refuses a name
    for 60 s after its queue is deleted): wait out the rest, saying so. Returns the wait."""
    if deployed is not None:
        return 0.0
    wait = planning.queue_name_cooldown_s(queues_stack_deleted_at(app, aws), datetime.now(UTC))
    if wait > 0:
        log.warning("%s was deleted moments ago and SQS reuses a queue name only 60 s after "
                    "its queue is deleted: waiting %.0f s before creating the queues",
                    common.stack_name(app, common.QUEUES), wait)
        sleep(wait)
    return wait


def begin(app: App, aws: Aws, force_remove: bool) -> SwitchoverPlan:
    """Refuse what would lose messages (before anything changes), then pause dispatching."""
    deployed = queues_template(app, aws)
    switch, _ = plan_for(app, aws, deployed, force_remove)
    if switch.refusals:
        raise SwitchoverRefused("; ".join(switch.refusals))
    wait_for_queue_names(app, aws, deployed)
    set_control(app, aws, planning.control_before_deploy)
    return switch


def restore(app: App, aws: Aws) -> None:
    set_control(app, aws, planning.control_after_deploy)


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


def wait_for_old_invocations(app: App, aws: Aws, lease_queues: list[str], since: datetime,
                             sleep: Callable[[float], None] = time.sleep) -> None:
    """Before the last drain of a retiring queue: invocations of the old code, started before
    the new functions were in place (`since`), still send to the old queue names. Waits until
    the lease queues count none running (or their longest timeout has passed) and the
    invocation components that route to queues (not counted) have surely ended."""
    wait = planning.old_invocations(app)
    urls = [url for url in map(aws.queue_url, lease_queues) if url]
    elapsed = (datetime.now(since.tzinfo) - since).total_seconds()
    start = time.monotonic()
    announced = False
    while True:
        waited = elapsed + time.monotonic() - start
        counted_done = waited >= wait.counted_s or _running(aws, urls) == 0
        if counted_done and waited >= wait.uncounted_s:
            return
        if not announced:
            log.info("waiting for invocations of the old version to finish (at most %d s) "
                     "before the last drain of the retiring queues",
                     max(wait.counted_s, wait.uncounted_s) - int(waited))
            announced = True
        sleep(1)


def _running(aws: Aws, lease_queue_urls: list[str]) -> int:
    return sum(aws.counts(url).not_visible for url in lease_queue_urls)


def stacks_failed(app: App, aws: Aws, since: datetime | None) -> list[str]:
    failed = []
    for stack in common.STACKS:
        info = aws.stack(common.stack_name(app, stack))
        if info is None:
            continue
        recent = since is None or info.updated >= since
        if planning.stack_failed(info.status) and recent:
            failed.append(f"{info.name} ({info.status})")
    return failed


def finish(app: App, aws: Aws, since: datetime | None = None,
           force_remove: bool = False) -> FinishReport:
    report = FinishReport()
    failed = stacks_failed(app, aws, since)
    if failed:
        report.skipped = f"not switching over: {', '.join(failed)}; the old version keeps running"
        log.warning(report.skipped)
        restore(app, aws)
        return report
    deployed = queues_template(app, aws)
    old = retiring(app, deployed)
    if old:
        switch = planning.plan_switchover(old, queues.desired_queues(app), {}, force_remove=True)
        user_fn = load_callable(app)
        functions = aws.stack(common.stack_name(app, common.FUNCTIONS))
        if switch.moves and functions is not None:
            leases = [q.name for q in deployed_queues(deployed) if q.kind == common.INFLIGHT]
            wait_for_old_invocations(app, aws, leases, functions.updated)
        for move in switch.moves:
            source, target = aws.queue_url(move.source.name), aws.queue_url(move.target)
            if source is None:
                continue
            if target is None:
                raise UserError(f"switchover: target queue {move.target} does not exist")
            if move.replaced and move.source.kind == common.INPUT and user_fn is not None:
                user_fn(source, target)
            report.moved[move.source.name] = drain(aws, source, target)
        removable = list(switch.remove)
        for q in switch.remove_if_empty:
            url = aws.queue_url(q.name)
            if url is None or aws.counts(url).total == 0:
                removable.append(q)
            else:
                report.kept.append(q.name)
        for q in switch.remove:
            url = aws.queue_url(q.name)
            if url is not None and q.kind != common.INFLIGHT and aws.counts(url).total:
                removable.remove(q)
                report.kept.append(q.name)
        if removable and deployed is not None:
            template = dict(deployed)
            gone = {q.logical_id for q in removable}
            template["Resources"] = {k: v for k, v in deployed["Resources"].items()
                                     if k not in gone}
            stack = common.stack_name(app, common.QUEUES)
            status = aws.update_template(stack, template)
            if planning.stack_failed(status):
                raise UserError(f"switchover: removing drained queues from {stack}: {status}")
            for q in removable:  # retained dead-letter queues are not deleted by CloudFormation
                url = aws.queue_url(q.name)
                if url is not None:
                    aws.delete_queue(url)
            report.removed = [q.name for q in removable]
    restore(app, aws)
    return report


def app_queue_names(app: App, aws: Aws) -> list[DeployedQueue]:
    return deployed_queues(queues_template(app, aws))


def before_delete(app: App, aws: Aws, force_remove: bool) -> None:
    """Deleting the application: refuse while input queues hold messages, unless forced; then
    move them to the dead-letter queues (retained by the stack), and stop dispatching."""
    deployed = app_queue_names(app, aws)
    held = {q.name: c.total for q, c in
            zip(deployed, _counts(aws, deployed).values(), strict=True) if q.kind == common.INPUT}
    busy = {name: n for name, n in held.items() if n}
    if busy and not force_remove:
        listing = ", ".join(f"{n} ({c} message(s))" for n, c in sorted(busy.items()))
        raise SwitchoverRefused(
            f"refusing to delete {app.name}: queues still hold messages: {listing}; drain them, "
            f"or set {FORCE_REMOVE_ENV}=1 to move them to their dead-letter queues")
    set_control(app, aws, lambda current: planning.PAUSED if current else None)
    by_component = {(q.component, q.kind): q for q in deployed}
    for name in busy:
        q = next(q for q in deployed if q.name == name)
        dlq = by_component.get((q.component, common.DLQ))
        source = aws.queue_url(name)
        target = aws.queue_url(dlq.name) if dlq else None
        if source and target:
            drain(aws, source, target)


def after_delete(app: App, aws: Aws, dead_letter_queues: list[DeployedQueue]) -> list[str]:
    """Remove the retained dead-letter queues that are empty; return those kept."""
    kept = []
    for q in dead_letter_queues:
        url = aws.queue_url(q.name)
        if url is None:
            continue
        if aws.counts(url).total:
            kept.append(q.name)
        else:
            aws.delete_queue(url)
    return kept
