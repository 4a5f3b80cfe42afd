"""`lcbuild pause` / `resume`: flip the control parameter, and make the event source mappings of
the message components follow it (a native component's mapping is not stopped by the control
value: `mappings`); nothing is deleted. Idempotent: what is already as asked is left alone.
`resume` also ticks the coordinator's schedule, so chains that went idle while paused start at
once if there is work, not at the rule's next tick."""

from __future__ import annotations

from dataclasses import dataclass

from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy import mappings, switchover, switchover_plan
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.mappings import MappingChange
from lambda_complex.builder.deploy.switchover_steps import SetMappings, TickSchedule
from lambda_complex.builder.errors import UserError
from lambda_complex.runtime import control, names


@dataclass(frozen=True)
class Switched:
    """The control value before and after, and every mapping of the app's message components
    (`updated`: whether it was changed)."""

    before: str
    after: str
    mappings: tuple[MappingChange, ...] = ()

    @property
    def control(self) -> tuple[str, str]:
        return self.before, self.after


def set_state(app: App, aws: Aws, value: str) -> Switched:
    """The parameter is created by the coordinator stack; the control value is changed first,
    then the mappings (`SetMappings`, carried out as the switchover does)."""
    name = names.control_parameter_name(app.name)
    current = aws.get_parameter(name)
    if current is None:
        raise UserError(f"{app.name} is not deployed (no parameter {name}): "
                        "run `sceptre launch prod` first")
    if current.value != value:
        aws.put_parameter(name, value)
    seen = aws.mappings(mappings.functions_of(app))
    changed: dict[str, MappingChange] = {}
    for step in switchover_plan.set_mappings(name, seen, value):
        assert isinstance(step, SetMappings)
        changed.update((c.uuid, c) for c in switchover.set_mappings(aws, step))
    if value == control.RUNNING:
        coordinator = names.function_name(app.name, names.COORDINATOR)
        switchover.tick_schedule(aws, TickSchedule(coordinator))
    report = tuple(changed.get(m.uuid) or MappingChange(m.uuid, m.function, m.queue, m.state,
                                                        m.state, False) for m in seen)
    return Switched(current.value, value, report)



def format_text(app: str, switched: Switched) -> str:
    lines = [f"{app}: {switched.before} -> {switched.after}"]
    for m in switched.mappings:
        change = f"{m.before} -> {m.after}" if m.updated else f"{m.after} (unchanged)"
        lines.append(f"  event source mapping {m.function} <- {m.queue}: {change}")
    return "\n".join(lines)
