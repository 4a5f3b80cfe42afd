"""`lcbuild plan`: what the next deploy would do to the deployed queues, without doing it.

The switchover hook computes the same plan (`switchover.plan_for`) and acts on it; here it is
only shown, with the messages each move would carry, so a rename or a removal can be checked
before `sceptre launch prod` (which refuses the same things). The three stacks' template changes
are Sceptre's to show: `sceptre diff prod`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import queues
from lambda_complex.builder.deploy import switchover
from lambda_complex.builder.deploy.aws import Aws


@dataclass(frozen=True)
class Move:
    source: str
    target: str
    messages: int
    why: str  # "renamed" (a successor queue) or "component removed" (to its dead-letter queue)


@dataclass(frozen=True)
class Preview:
    app: str
    deployed: bool
    create: list[str] = field(default_factory=list)
    move: list[Move] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    keep_while_not_empty: list[str] = field(default_factory=list)  # retiring dead-letter queues
    refused: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def preview(app: App, aws: Aws, force_remove: bool) -> Preview:
    deployed = switchover.queues_template(app, aws)
    if deployed is None:
        return Preview(app.name, False, create=[q.name for q in queues.desired_queues(app)])
    have = {q.name for q in switchover.deployed_queues(deployed)}
    plan, counts = switchover.plan_for(app, aws, deployed, force_remove)
    moves = [
        Move(move.source.name, move.target, counts[move.source.name].total,
             "renamed" if move.replaced else "component removed")
        for move in plan.moves
    ]
    return Preview(
        app.name,
        True,
        create=[q.name for q in queues.desired_queues(app) if q.name not in have],
        move=moves,
        remove=[q.name for q in plan.remove],
        keep_while_not_empty=[q.name for q in plan.remove_if_empty],
        refused=plan.refusals,
    )


def format_text(p: Preview) -> str:
    if not p.deployed:
        return f"{p.app} is not deployed: the first deploy creates {len(p.create)} queue(s)"
    lines = [f"{p.app}: the next deploy's queue changes"]
    lines += [f"  create  {name}" for name in p.create]
    lines += [f"  move    {m.source} -> {m.target} ({m.messages} message(s); {m.why})"
              for m in p.move]
    lines += [f"  remove  {name}" for name in p.remove]
    lines += [f"  remove  {name} once empty" for name in p.keep_while_not_empty]
    lines += [f"  REFUSED {reason}" for reason in p.refused]
    if len(lines) == 1:
        lines.append("  none")
    return "\n".join(lines)
