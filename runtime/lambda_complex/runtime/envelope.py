"""The message envelope every queue message and invocation payload carries.

`{"lc": 1, "trace_id": ..., "hops": n, "source": component, "data": payload}`: the trace id follows
one input through the whole chain (logs), the hop count stops routing loops.
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

VERSION = 1
_KEYS = frozenset({"lc", "trace_id", "hops", "source", "data"})
# Source of messages that enter the application from outside (lcbuild local run --send, users).
EXTERNAL = "external"


class PermanentError(Exception):
    """Retrying cannot help: the input goes to the dead-letter queue at once, with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EnvelopeError(PermanentError):
    """Malformed JSON, or JSON that is not our envelope."""


class HopLimitExceeded(PermanentError):
    """A result would travel more than max_hops: most likely a routing loop."""


def new_trace_id() -> str:
    # os.urandom instead of uuid: same uniqueness, no import cost.
    return os.urandom(16).hex()


class Envelope(NamedTuple):
    trace_id: str
    hops: int
    source: str
    data: Any

    def to_dict(self) -> dict[str, Any]:
        return {
            "lc": VERSION,
            "trace_id": self.trace_id,
            "hops": self.hops,
            "source": self.source,
            "data": self.data,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


def new(data: Any, source: str = EXTERNAL) -> Envelope:
    """A fresh envelope for data entering the application (hop 0)."""
    return Envelope(trace_id=new_trace_id(), hops=0, source=source, data=data)


def from_dict(value: Any) -> Envelope:
    if not isinstance(value, dict):
        raise EnvelopeError(f"not an envelope: a JSON {type(value).__name__}, not an object")
    if value.get("lc") != VERSION:
        raise EnvelopeError(f"not an envelope: 'lc' is {value.get('lc')!r}, not {VERSION}")
    missing = sorted(_KEYS - value.keys())
    if missing:
        raise EnvelopeError(f"not an envelope: missing {', '.join(missing)}")
    trace_id, hops, source = value["trace_id"], value["hops"], value["source"]
    if not isinstance(trace_id, str) or not trace_id:
        raise EnvelopeError("not an envelope: 'trace_id' must be a non-empty string")
    if not isinstance(hops, int) or isinstance(hops, bool) or hops < 0:
        raise EnvelopeError("not an envelope: 'hops' must be an integer >= 0")
    if not isinstance(source, str):
        raise EnvelopeError("not an envelope: 'source' must be a string")
    return Envelope(trace_id=trace_id, hops=hops, source=source, data=value["data"])


def parse(body: str) -> Envelope:
    """A queue message body -> Envelope, or EnvelopeError with the reason."""
    try:
        value = json.loads(body)
    except (ValueError, TypeError) as e:
        raise EnvelopeError(f"malformed JSON: {e}") from None
    return from_dict(value)


def from_event(event: Any) -> Envelope:
    """An invocation payload: our envelope, or a raw payload from outside (wrapped at hop 0).

    Anything carrying the `lc` key claims to be an envelope and must be a valid one."""
    if isinstance(event, dict) and "lc" in event:
        return from_dict(event)
    return new(event)


def next_hop(current: Envelope, source: str, data: Any, max_hops: int) -> Envelope:
    """The envelope of a result routed onwards from `current`."""
    hops = current.hops + 1
    if hops > max_hops:
        raise HopLimitExceeded(
            f"hop limit {max_hops} exceeded (routing loop?) at {source!r}, trace {current.trace_id}"
        )
    return Envelope(trace_id=current.trace_id, hops=hops, source=source, data=data)
