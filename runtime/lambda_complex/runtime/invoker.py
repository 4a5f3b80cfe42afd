"""The invoker (CMD `lambda_complex.runtime.invoker.handler`, coordinator image): fans out an
invoker event (`protocol.InvokerEvent`), making at most `max_invocations` Invoke calls itself and
handing the rest to child invokers, recursively; message components get a nudge
(`protocol.Nudge`).

Invocations are idempotent nudges (a message component takes its work from its queue), so a failed
Invoke is logged and its lease handed back, not retried or raised: the next coordinator generation
plans again from backlog. Raising would make Lambda retry the whole event and duplicate the
invocations that did succeed. Leases are taken by the instance that makes the Invoke calls, so a
child invoker's payload stays small (counts, no receipt handles).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from . import config as config_mod
from . import inflight, log, names, resources
from .config import RuntimeConfig
from .protocol import InvokerEvent, Nudge

Invocations = list[tuple[str, int]]  # (component, count), count > 0

MIN_FAN_OUT = 2


class Split(NamedTuple):
    direct: Invocations  # invoked by this instance
    children: list[Invocations]  # one child invoker each


def total(invocations: Sequence[tuple[str, int]]) -> int:
    return sum(count for _, count in invocations)


def take(invocations: Sequence[tuple[str, int]], n: int) -> tuple[Invocations, Invocations]:
    """The first n invocations (in order), and the rest."""
    head: Invocations = []
    tail: Invocations = []
    for component, count in invocations:
        if count <= 0:
            continue
        now = min(count, n)
        if now:
            head.append((component, now))
            n -= now
        if count > now:
            tail.append((component, count - now))
    return head, tail


def split(invocations: Sequence[tuple[str, int]], max_invocations: int) -> Split:
    """Direct invocations + child shares, with len(direct units) + len(children) <= m.

    If everything fits, all direct. Else c children each get <= m (so they need no children of
    their own) and m - c are direct, c = ceil((total - m) / (m - 1)), when c < m; beyond that
    (total > m + (m-1)^2) m children share everything evenly and recurse. Fan-out needs m >= 2
    (one call cannot both invoke and hand on), so smaller values count as 2."""
    m = max(MIN_FAN_OUT, max_invocations)
    n = total(invocations)
    if n <= m:
        return Split(take(invocations, n)[0], [])
    c = math.ceil((n - m) / (m - 1))
    if c < m:
        direct, rest = take(invocations, m - c)
    else:
        c, direct, rest = m, [], list(invocations)
    children: list[Invocations] = []
    remaining = n - total(direct)
    for i in range(c):
        share = remaining // c + (1 if i < remaining % c else 0)
        child, rest = take(rest, share)
        if child:
            children.append(child)
    return Split(direct, children)


def invoke_async(function_name: str, payload: dict[str, Any]) -> str | None:
    """One asynchronous Invoke; the error as text, None when Lambda accepted it."""
    try:
        response = resources.lambda_client().invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(payload).encode("utf-8"),
        )
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    status = response.get("StatusCode")
    return None if status == 202 else f"status {status}"


def _with_leases(config: RuntimeConfig, direct: Invocations) -> list[tuple[str, str | None]]:
    """One (component, lease) per direct invocation the free slots allow, the leases taken just
    before the Invoke (see `inflight`): fewer than planned when pushes took slots meanwhile;
    None for a start SQS could not account for."""

    def leases(item: tuple[str, int]) -> list[str | None]:
        component, count = item
        own = config.components[component]
        return inflight.take(config.app, component, count, own.timeout, own.max_concurrency)

    workers = max(1, min(config.coordinator.max_api_concurrency, len(direct)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_component = list(pool.map(leases, direct))
    return [(c, lease) for (c, _), ls in zip(direct, per_component, strict=True) for lease in ls]


def fan_out(config: RuntimeConfig, invocations: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Make this instance's calls, at most max_api_concurrency at once."""
    plan = split(invocations, config.coordinator.max_invocations)
    units = _with_leases(config, plan.direct) if plan.direct else []
    calls: list[tuple[str, dict[str, Any]]] = [
        (names.function_name(config.app, component), Nudge(lease).to_dict())
        for component, lease in units
    ]
    invoker = names.function_name(config.app, names.INVOKER)
    calls += [
        (invoker, InvokerEvent(child).to_dict()) for child in plan.children
    ]
    if not calls:
        return {"invoked": 0, "children": 0, "failed": 0}
    workers = max(1, min(config.coordinator.max_api_concurrency, len(calls)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        errors = list(pool.map(lambda call: invoke_async(*call), calls))
    unused: dict[str, list[str]] = {}
    for i, ((function_name, _), error) in enumerate(zip(calls, errors, strict=True)):
        if not error:
            continue
        log.emit("invoke_failed", function=function_name, error=error)
        if i < len(units) and units[i][1]:
            component, lease = units[i]
            unused.setdefault(component, []).append(str(lease))
    for component, receipts in unused.items():  # never started: free their slots now
        inflight.hand_back(config.app, component, receipts)
    failed = sum(1 for e in errors if e)
    return {"invoked": len(units), "children": len(plan.children), "failed": failed}


_config: RuntimeConfig | None = None


def handler(event: Any, context: Any) -> dict[str, int]:
    global _config
    if _config is None:
        _config = config_mod.load()
    known = _config.components
    invocations = [(c, n) for c, n in InvokerEvent.from_event(event).invocations if c in known]
    result = fan_out(_config, invocations)
    log.emit("invoker", **result)
    return result


def reset() -> None:
    global _config
    _config = None
