"""The vocabulary of a switchover plan: its steps (frozen dataclasses, each one thing to do)
and the plan that lists them. `switchover_plan` decides them, `switchover` executes them,
`preview` renders them; a step holds plain data only, so a plan prints and compares as data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeAlias

from lambda_complex.builder.deploy.mappings import MappingState


@dataclass(frozen=True)
class OldInvocations:
    """How long invocations of the old code may still run once the new functions are in place,
    in seconds from then. They may send to a retiring queue, so its last drain waits for them;
    dispatching is paused for the deploy, so they only finish, within their timeout."""

    counted_s: int  # message components': their lease queues tell when none runs, at most this
    uncounted_s: int  # invocation components that route to queues: no count, this is waited out


@dataclass(frozen=True)
class Refuse:
    """The deploy (or delete) would lose messages: nothing is done at all."""

    kind: ClassVar[str] = "refuse"
    reason: str


@dataclass(frozen=True)
class CreateQueue:
    """Made by CloudFormation with the queues stack; in the plan to be shown, not executed."""

    kind: ClassVar[str] = "create"
    name: str


@dataclass(frozen=True)
class WaitForQueueNames:
    kind: ClassVar[str] = "wait_for_queue_names"
    stack: str
    seconds: float


@dataclass(frozen=True)
class SetControl:
    kind: ClassVar[str] = "set_control"
    parameter: str
    current: str
    new: str


@dataclass(frozen=True)
class SetMappings:
    """Enable or disable the event source mappings listed (as the plan saw them: only these are
    changed), following the control value. Carried out only if the control value, read again
    then, still calls for `enabled` (a `lcbuild pause` during the deploy wins)."""

    kind: ClassVar[str] = "set_mappings"
    parameter: str  # the control parameter
    enabled: bool
    mappings: tuple[MappingState, ...]


@dataclass(frozen=True)
class TickSchedule:
    """Give the coordinator its schedule event once, now (asynchronously), rather than at the
    EventBridge rule's next tick, up to a minute away: a fresh deployment's chains start, an
    idle chain wakes if there is work, and with every chain running it costs the schedule's one
    GetParameters. The schedule's own rules decide (at-least-once safe: it writes the new
    lineage's heartbeat first)."""

    kind: ClassVar[str] = "tick_schedule"
    function: str  # the coordinator's function


@dataclass(frozen=True)
class SkipSwitchover:
    kind: ClassVar[str] = "skip"
    reason: str


@dataclass(frozen=True)
class WaitForOldInvocations:
    """`since`: when the new functions were in place (None: not yet, in a preview). Old
    invocations are counted as the lease queues' tokens not visible, and (native components,
    started by their mappings) as `batch_queues`' messages not visible: a batch in flight."""

    kind: ClassVar[str] = "wait_for_old_invocations"
    lease_queues: tuple[str, ...]
    bounds: OldInvocations
    since: datetime | None
    batch_queues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Move:
    """Every message of queue `source` into queue `target`; `notify`: first call the user's
    `deployment.switchover(old_url, new_url)` (a replaced input queue)."""

    kind: ClassVar[str] = "move"
    source: str
    target: str
    messages: int  # held when planned
    why: str
    notify: bool = False


@dataclass(frozen=True)
class Removal:
    """A retiring queue to remove from the queues stack and delete. `when`: "always" (lease
    tokens, never moved), "drained" (moved by an earlier step), "empty" (expected to hold
    messages: kept while it does). Decided on counts read after the moves: `removable`."""

    name: str
    logical_id: str
    when: str


@dataclass(frozen=True)
class RemoveQueues:
    kind: ClassVar[str] = "remove"
    stack: str
    queues: tuple[Removal, ...]


@dataclass(frozen=True)
class DeleteQueue:
    """After `sceptre delete`: an empty retained dead-letter queue."""

    kind: ClassVar[str] = "delete_queue"
    name: str


@dataclass(frozen=True)
class KeepQueue:
    kind: ClassVar[str] = "keep_queue"
    name: str
    messages: int


Step: TypeAlias = (Refuse | CreateQueue | WaitForQueueNames | SetControl | SetMappings
        | TickSchedule | SkipSwitchover | WaitForOldInvocations | Move | RemoveQueues
        | DeleteQueue | KeepQueue)


def _plain(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in pairs}


@dataclass(frozen=True)
class Plan:
    app: str
    deployed: bool  # the queues stack exists
    steps: tuple[Step, ...] = ()

    @property
    def refused(self) -> list[str]:
        return [s.reason for s in self.steps if isinstance(s, Refuse)]

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data (`lcbuild plan --json`): every step with its `step` kind."""
        return {"app": self.app, "deployed": self.deployed, "refused": self.refused,
                "steps": [{"step": s.kind, **asdict(s, dict_factory=_plain)}
                          for s in self.steps]}
