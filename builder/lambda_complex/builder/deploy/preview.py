"""`lcbuild plan`: what the next deploy would do, without doing it.

It reads the same inputs (`switchover.read_inputs`) and calls the same planner as the switchover
hooks (`switchover_plan.plan_deploy`: both phases, planned now); the plan is only shown, as text
(`format_text`) or plain data (`as_json`), so a rename or a removal can be checked before
`sceptre launch prod`, which refuses the same things. The hooks plan each phase again when it
runs, on the counts of then (messages keep arriving). The three stacks' template changes are
Sceptre's to show: `sceptre diff prod`.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy import switchover, switchover_plan
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.switchover_steps import (
    CreateQueue,
    Move,
    Plan,
    Refuse,
    RemoveQueues,
    SetControl,
    SetMappings,
    SkipSwitchover,
    Step,
    TickSchedule,
    WaitForOldInvocations,
    WaitForQueueNames,
)

# What `lcbuild plan` returns is the deploy's plan itself (the name the Python API exports).
Preview: TypeAlias = Plan


def preview(app: App, aws: Aws, force_remove: bool) -> Plan:
    """The next deploy's plan (reads AWS, changes nothing); `plan.refused` lists refusals."""
    return switchover_plan.plan_deploy(switchover.read_inputs(app, aws, force_remove))


def as_json(plan: Plan) -> dict[str, Any]:
    return plan.to_dict()


def _lines(step: Step) -> list[str]:
    match step:
        case Refuse():
            return [f"REFUSED {step.reason}"]
        case CreateQueue():
            return [f"create  {step.name}"]
        case WaitForQueueNames():
            return [f"wait    {step.seconds:.0f} s: SQS reuses a queue name 60 s after a delete"]
        case SetControl():
            what = "pause " if step.new != switchover_plan.RUNNING else "resume"
            return [f"{what}  dispatching ({step.parameter}: {step.current} -> {step.new})"]
        case SetMappings():
            what = "enable " if step.enabled else "disable"
            return [f"{what} event source mapping {m.function} <- {m.queue} ({m.state})"
                    for m in step.mappings]
        case TickSchedule():
            return [f"start   the coordinator's schedule now ({step.function}), not at its "
                    "next minute"]
        case SkipSwitchover():
            return [f"skip    {step.reason}"]
        case WaitForOldInvocations():
            longest = max(step.bounds.counted_s, step.bounds.uncounted_s)
            batches = (f"; batches in flight in {', '.join(step.batch_queues)}"
                       if step.batch_queues else "")
            return [f"wait    for the old version's invocations to end (at most {longest} s "
                    f"after the functions update{batches})"]
        case Move():
            call = " after deployment.switchover(old, new)" if step.notify else ""
            return [f"move    {step.source} -> {step.target} ({step.messages} message(s); "
                    f"{step.why}){call}"]
        case RemoveQueues():
            return [f"remove  {r.name}" + (" once empty" if r.when == "empty" else "")
                    for r in step.queues]
    return [f"{step.kind}  {step}"]


def format_text(plan: Plan) -> str:
    if not plan.deployed and not plan.refused:
        created = sum(isinstance(s, CreateQueue) for s in plan.steps)
        return f"{plan.app} is not deployed: the first deploy creates {created} queue(s)"
    lines = [f"{plan.app}: the next deploy's steps"]
    lines += [f"  {line}" for step in plan.steps for line in _lines(step)]
    if not any(isinstance(s, CreateQueue | Move | RemoveQueues | Refuse) for s in plan.steps):
        lines.append("  queues  no change")
    return "\n".join(lines)
