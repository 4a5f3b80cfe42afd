"""Structured JSON logs: one line per event on stdout, which Lambda ships to CloudWatch Logs.

No `logging` module: a plain write is faster to import and needs no handler set-up in Lambda.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def emit(event: str, **fields: Any) -> None:
    record = {"ts": round(time.time(), 3), "event": event, **fields}
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def outcome(
    component: str,
    trace_id: str | None,
    message_id: str | None,
    outcome: str,
    duration_ms: float,
    **extra: Any,
) -> None:
    """The one line per message (or invocation event) that monitoring counts."""
    emit(
        "message",
        component=component,
        trace_id=trace_id,
        message_id=message_id,
        outcome=outcome,
        duration_ms=round(duration_ms, 1),
        **extra,
    )
