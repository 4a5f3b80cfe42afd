"""`lcbuild status`: what the deployed application is doing, read from the deployed stacks.

Per component: queue depth, in flight (the lease queue's not-visible tokens; for a native
component, started by its event source mapping, its input queue's messages not visible: the
batches in flight), dead-lettered (the dead-letter queue's depth), limit (max_concurrency), how it
is dispatched and the State of its mapping. Coordinator: chains alive (heartbeat parameters
written recently), the last coordinator run, and whether dispatching is on."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common
from lambda_complex.builder.deploy import mappings
from lambda_complex.builder.deploy.aws import Aws, Parameter
from lambda_complex.builder.deploy.mappings import MappingState
from lambda_complex.runtime import chains, names


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    type: str
    queued: int | None  # None: no queue (event_from_invocation)
    in_flight: int | None
    dead_lettered: int | None
    limit: int
    dispatch: str | None = None  # push | coordinator | native; None: no queue
    mapping: str | None = None  # its event source mapping's State; None: it has none


def mapping_cell(found: list[MappingState]) -> str | None:
    """The State of a function's mappings (several, which AWS allows on distinct queues, as
    `A/B`); None without any."""
    return "/".join(m.state for m in found) or None


@dataclass(frozen=True)
class Status:
    app: str
    control: str | None  # running | paused | deploying | None (not deployed)
    stacks: dict[str, str | None]
    components: list[ComponentStatus]
    chains_alive: int
    chains_wanted: int
    last_coordinator_run: str | None  # ISO time of the newest heartbeat

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def chain_summary(app: App, heartbeats: list[Parameter], now: datetime) -> tuple[int, str | None]:
    """(chains alive, time of the newest heartbeat) — pure."""
    chain_prefix = names.chain_parameter_name(app.name, 0).rsplit("/", 1)[0] + "/"
    beats = [p for p in heartbeats if p.name.startswith(chain_prefix)]
    alive = sum(1 for p in beats if (now - p.modified).total_seconds()
                <= chains.stale_after_s(app.coordinator.min_interval))
    newest = max((p.modified for p in beats), default=None)
    return alive, newest.isoformat() if newest else None


def gather(app: App, aws: Aws, now: datetime | None = None) -> Status:
    now = now or datetime.now(UTC)

    def depth(name: str, field: str) -> int | None:
        url = aws.queue_url(name)
        if url is None:
            return None
        counts = aws.counts(url)
        return counts.not_visible if field == "not_visible" else counts.visible + counts.delayed

    a = app.name
    found = aws.mappings(mappings.functions_of(app))
    components = []
    for c in app.components:
        running = names.queue_name(a, c.name) if c.native else names.inflight_queue_name(a, c.name)
        components.append(ComponentStatus(
            name=c.name,
            type=c.type.value,
            queued=depth(names.queue_name(a, c.name), "visible") if c.has_queue else None,
            in_flight=depth(running, "not_visible") if c.has_queue else None,
            dead_lettered=depth(names.dead_letter_queue_name(a, c.name), "visible"),
            limit=c.max_concurrency,
            dispatch=c.dispatch if c.has_queue else None,
            mapping=mapping_cell([m for m in found
                                  if m.function == names.function_name(a, c.name)]),
        ))
    control = aws.get_parameter(names.control_parameter_name(app.name))
    stacks = {}
    for stack in common.STACKS:
        info = aws.stack(common.stack_name(app, stack))
        stacks[common.stack_name(app, stack)] = info.status if info else None
    alive, last = chain_summary(app, aws.parameters_under(names.parameter_prefix(app.name)), now)
    return Status(app=app.name, control=control.value if control else None, stacks=stacks,
                  components=components, chains_alive=alive,
                  chains_wanted=app.coordinator.concurrency, last_coordinator_run=last)


def _cell(value: int | None) -> str:
    return "-" if value is None else str(value)


def format_text(status: Status) -> str:
    lines = [f"{status.app}: {status.control or 'not deployed'}"]
    lines += [f"  stack {name}: {state or 'absent'}" for name, state in status.stacks.items()]
    lines.append(f"  coordinator chains alive: {status.chains_alive}/{status.chains_wanted}, "
                 f"last run: {status.last_coordinator_run or 'never'}")
    header = ("component", "type", "queued", "in flight", "dead-lettered", "limit", "dispatch",
              "mapping")
    rows = [header] + [(c.name, c.type, _cell(c.queued), _cell(c.in_flight),
                        _cell(c.dead_lettered), str(c.limit), c.dispatch or "-",
                        c.mapping or "-") for c in status.components]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return "\n".join(lines)
