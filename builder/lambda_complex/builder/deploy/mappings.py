"""The SQS event source mappings of an application's message components, as data, and the rule
that keeps them in step with the dispatch switch. No AWS here (`aws.Aws` reads and updates them).

A `dispatch: native` component is started by Lambda's own mapping on its input queue, which the
control parameter does not stop. So every operation that stops or starts dispatching (`lcbuild
pause`/`resume`, the switchover) makes the mappings follow the control value: enabled only while
it reads `running`. The mappings looked at are those of every message component's function (and
of the components a deploy retires), not only those the definition calls native: what is
deployed may be a version behind the definition.

A mapping's `State` is one of Creating, Enabling, Enabled, Disabling, Disabled, Updating,
Deleting (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html).
One on its way to the wanted state needs nothing; one being deleted is left alone; Creating and
Updating say nothing about where it goes, so they are updated (AWS may answer
ResourceInUseException until the transition ends: `Aws.set_mapping_enabled` retries).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.runtime import control, names

ENABLED, ENABLING, DISABLED, DISABLING = "Enabled", "Enabling", "Disabled", "Disabling"
CREATING, UPDATING, DELETING = "Creating", "Updating", "Deleting"
_ON_THE_WAY = {True: (ENABLED, ENABLING), False: (DISABLED, DISABLING)}


@dataclass(frozen=True)
class MappingState:
    """One mapping as ListEventSourceMappings answers it."""

    uuid: str
    function: str  # the function's name
    queue: str  # the source queue's name
    state: str


@dataclass(frozen=True)
class MappingChange:
    """What `lcbuild pause`/`resume` or a switchover step did to one mapping: `before` as it was
    read, `after` as UpdateEventSourceMapping answered (the same when nothing was needed)."""

    uuid: str
    function: str
    queue: str
    before: str
    after: str
    updated: bool


def mapping_from(configuration: dict[str, Any]) -> MappingState | None:
    """A ListEventSourceMappings entry; None unless its source is an SQS queue."""
    source = str(configuration.get("EventSourceArn", ""))
    if not source.startswith("arn:") or source.split(":")[2:3] != ["sqs"]:
        return None
    function = str(configuration.get("FunctionArn", "")).split(":function:", 1)[-1]
    return MappingState(str(configuration["UUID"]), function.split(":", 1)[0],
                        source.rsplit(":", 1)[-1], str(configuration.get("State", "")))


def functions_of(app: App, retiring_components: Iterable[str] = ()) -> list[str]:
    """The functions whose mappings dispatching concerns: every message component's, and those
    of components a deploy retires (renamed or removed: their old functions still run)."""
    found = {names.function_name(app.name, c.name) for c in app.components if c.has_queue}
    found |= {names.function_name(app.name, c) for c in retiring_components}
    return sorted(found)


def wanted(control_value: str | None) -> bool | None:
    """Whether mappings should be enabled under a control value: only while it reads `running`
    (as the coordinator dispatches only then). None: no control value (nothing deployed)."""
    if control_value is None:
        return None
    return not control.value_means_paused(control_value)


def needs_update(state: str, enabled: bool) -> bool:
    return state != DELETING and state not in _ON_THE_WAY[enabled]


def to_change(seen: Sequence[MappingState], enabled: bool) -> tuple[MappingState, ...]:
    return tuple(m for m in seen if needs_update(m.state, enabled))


def after_update(seen: Sequence[MappingState], enabled: bool) -> tuple[MappingState, ...]:
    """The mappings as they will read once the ones that need it were updated."""
    settled = ENABLED if enabled else DISABLED
    return tuple(replace(m, state=settled) if needs_update(m.state, enabled) else m
                 for m in seen)
