"""Fires the EventBridge schedule rules stored in the emulator, which stores them but never fires.

Each enabled rule with `rate(...)` invokes its Lambda targets asynchronously (through the local
Lambda service, like EventBridge) every period, first one period after it is seen, as EventBridge
does. A target's `Input` is the event; without one, EventBridge's "Scheduled Event". Rules are
re-read every `refresh` seconds, so a redeploy's rules take over. `cron(...)` is not fired (logged
once); tests shorten periods with `time_scale` or `period`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambda_complex.builder.local.lambda_service.functions import function_name_from

log = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}

Invoke = Callable[[str, Any], object]  # (function name, JSON-able event): queue an async invoke


def rate_seconds(expression: str) -> float | None:
    """Seconds between firings of `rate(N unit)`; None for anything else (cron)."""
    match = _RATE.match(expression.strip())
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2).rstrip("s")
    return float(count * _UNIT_SECONDS[unit])


@dataclass(frozen=True)
class Target:
    function: str
    input: str | None  # the target's constant Input (JSON text), if any


@dataclass(frozen=True)
class ScheduledRule:
    name: str
    arn: str
    period: float  # seconds, before scaling
    targets: tuple[Target, ...]


_warned: set[str] = set()


def read_rules(client: Any) -> list[ScheduledRule]:
    """Enabled `rate` rules with Lambda targets, from an EventBridge client (the emulator's)."""
    rules: list[ScheduledRule] = []
    for page in client.get_paginator("list_rules").paginate():
        for rule in page["Rules"]:
            expression = rule.get("ScheduleExpression")
            if not expression or rule.get("State") != "ENABLED":
                continue
            period = rate_seconds(expression)
            if period is None:
                if rule["Arn"] in _warned:
                    continue
                _warned.add(rule["Arn"])
                log.warning(
                    "schedule %s: %r is not fired locally (only rate(...) is)",
                    rule["Name"],
                    expression,
                )
                continue
            targets = tuple(
                Target(function_name_from(t["Arn"]), t.get("Input"))
                for page_t in client.get_paginator("list_targets_by_rule").paginate(
                    Rule=rule["Name"]
                )
                for t in page_t["Targets"]
                if ":lambda:" in t["Arn"]
            )
            rules.append(ScheduledRule(rule["Name"], rule["Arn"], period, targets))
    return rules


def scheduled_event(rule: ScheduledRule) -> dict[str, Any]:
    """The event EventBridge sends to a target that has no Input of its own."""
    _, _, _, region, account, _ = rule.arn.split(":", 5)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule.arn],
        "detail": {},
    }


class Scheduler:
    """`start()` a thread that fires the rules; `fired` counts firings per rule; `stop()`."""

    def __init__(
        self,
        client: Any,
        invoke: Invoke,
        *,
        time_scale: float = 1.0,  # 0.01: a one-minute rate fires every 0.6 s
        period: float | None = None,  # fixed period for every rule (overrides the scaled one)
        refresh: float = 5.0,
        fire_at_start: bool = False,  # also fire as soon as a rule is seen (kick-starts a run)
    ) -> None:
        self.client = client
        self.invoke = invoke
        self.time_scale = time_scale
        self.period = period
        self.refresh = refresh
        self.fire_at_start = fire_at_start
        self.fired: dict[str, int] = {}
        self._rules: dict[str, ScheduledRule] = {}
        self._next: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> Scheduler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def period_of(self, rule: ScheduledRule) -> float:
        return self.period if self.period is not None else rule.period * self.time_scale

    def _reload(self, now: float) -> None:
        try:
            rules = {r.name: r for r in read_rules(self.client)}
        except Exception:
            log.exception("cannot read the schedule rules from the emulator")
            return
        for name, rule in rules.items():
            if name not in self._next:
                self._next[name] = now if self.fire_at_start else now + self.period_of(rule)
        self._next = {n: t for n, t in self._next.items() if n in rules}
        self._rules = rules

    def _run(self) -> None:
        reload_at = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= reload_at:
                self._reload(now)
                reload_at = now + self.refresh
            for name, due in list(self._next.items()):
                if now >= due:
                    rule = self._rules[name]
                    self._fire(rule)
                    # Keep the cadence: the next firing is a period after this one was due.
                    self._next[name] = max(due + self.period_of(rule), now)
            wake = min([reload_at, *self._next.values()])
            self._stop.wait(max(0.0, min(wake - time.monotonic(), 1.0)))

    def _fire(self, rule: ScheduledRule) -> None:
        self.fired[rule.name] = self.fired.get(rule.name, 0) + 1
        for target in rule.targets:
            event = json.loads(target.input) if target.input else scheduled_event(rule)
            try:
                self.invoke(target.function, event)
            except Exception:
                log.exception("schedule %s: cannot invoke %s", rule.name, target.function)
