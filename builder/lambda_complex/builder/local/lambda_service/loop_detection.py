"""Lambda's recursive loop detection, modelled on `Invoke` calls: pure functions of the trace
header.

Lambda counts how often one triggering event has invoked each function, in metadata of the X-Ray
trace header that the AWS SDKs pass on inside Lambda (botocore copies `_X_AMZN_TRACE_ID`, which the
runtime interface client sets for each invocation, into `X-Amzn-Trace-Id`). After 16 invocations
of a function in one chain it stops the next one, unless the function's recursive loop setting is
`Allow`: a synchronous call fails with RecursiveInvocationException, an asynchronous event goes to
the on-failure destination if there is one, else it is dropped
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html,
https://aws.amazon.com/blogs/compute/detecting-and-stopping-recursive-loops-in-aws-lambda-functions/).

Locally the counts travel in the header's `Lineage` field, one `<function digest>:<count>` per
function on the path from the triggering event, so sibling invocations never add up.
"""

from __future__ import annotations

import hashlib
import time
import uuid

RECURSION_LIMIT = 16  # invocations of one function from one event that Lambda lets run
ALLOW, TERMINATE = "Allow", "Terminate"  # RecursiveLoop values; Terminate is Lambda's default
STOPPED = "RecursiveInvocationException"
TRACE_HEADER = "X-Amzn-Trace-Id"
_LINEAGE = "Lineage"


def _fields(header: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            found[key] = value
    return found


def digest(function: str) -> str:
    return hashlib.sha256(function.encode()).hexdigest()[:8]


def lineage(header: str | None) -> dict[str, int]:
    """Invocations so far per function digest, as the header carries them."""
    counts: dict[str, int] = {}
    for entry in _fields(header).get(_LINEAGE, "").split(","):
        key, _, count = entry.partition(":")
        if key and count.isdigit():
            counts[key] = int(count)
    return counts


def descend(header: str | None, function: str) -> tuple[str, int]:
    """(the trace header of an invocation of `function` caused by a call that carried `header`,
    how many times the chain has now invoked `function`, this one included). Without a header
    (the triggering event) a new trace starts."""
    fields = _fields(header)
    root = fields.get("Root") or f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    counts = lineage(header)
    key = digest(function)
    counts[key] = counts.get(key, 0) + 1
    chain = ",".join(f"{k}:{n}" for k, n in counts.items())
    trace = f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=0;{_LINEAGE}={chain}"
    return trace, counts[key]


def stops(count: int, recursive_loop: str) -> bool:
    """Whether Lambda stops the `count`th invocation of a function in one chain."""
    return count > RECURSION_LIMIT and recursive_loop != ALLOW


def message(function: str) -> str:
    return (
        f"Lambda detected that {function} was invoked in a recursive loop more than "
        f"{RECURSION_LIMIT} times from one event and stopped the invocation "
        "(RecursiveLoop is Terminate)"
    )
