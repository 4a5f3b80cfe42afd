"""Structured JSON logs: one line per event on stdout, which Lambda ships to CloudWatch Logs.

The lines other parts read (the message line, the route line) are `protocol`'s; this module only
writes them. No `logging` module: a plain write is faster to import and needs no handler set-up
in Lambda.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from .protocol import MessageLine, RouteLine


def write(fields: dict[str, Any]) -> None:
    record = {"ts": round(time.time(), 3), **fields}
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def emit(event: str, **fields: Any) -> None:
    write({"event": event, **fields})


def message(line: MessageLine) -> None:
    """The one line per input that monitoring counts."""
    write(line.to_dict())


def route(line: RouteLine) -> None:
    write(line.to_dict())
