"""`lcbuild trace TRACE_ID`: follow one input through the application.

Every message carries its trace id from component to component, and the wrapper logs one JSON
line per input it handled (`"event": "message"`, with the trace id and the outcome). The trace
is those lines from every component's log, in time order: where the input went, what became of
it at each step, and why if it failed. They come from CloudWatch Logs (the functions' log groups,
`/aws/lambda/<function>`), or with `--local` from the log files of the last `lcbuild local run`
(read by the run package, `local.run.files`, and passed to `steps`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.runtime import names, protocol

Step = dict[str, Any]


def parse_line(text: str) -> Step | None:
    """A wrapper's JSON log line, else None (Lambda's START/END/REPORT lines, user prints)."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def steps(records: Iterable[Step], trace_id: str) -> list[Step]:
    """The message lines of one trace in causal order: by hop (the envelope's count of
    components passed), then time (a line is written when its batch is done, so a result can
    be logged downstream before its input is)."""
    found = [r for r in records
             if protocol.reads_message_line(r) and r.get("trace_id") == trace_id]
    return sorted(found, key=lambda r: (int(r.get("hops") or 0), float(r.get("ts", 0))))


def from_cloudwatch(app: App, aws: Aws, trace_id: str, since_s: int) -> list[Step]:
    records: list[Step] = []
    for component in app.component_names:
        group = f"/aws/lambda/{names.function_name(app.name, component)}"
        for message in aws.log_messages(group, f'"{trace_id}"', since_s):
            record = parse_line(message)
            if record is not None:
                records.append(record)
    return steps(records, trace_id)


def format_text(trace_id: str, found: list[Step]) -> str:
    if not found:
        return f"no log line carries trace id {trace_id}"
    lines = [f"trace {trace_id}: {len(found)} step(s)"]
    start = min(float(step.get("ts", 0)) for step in found)
    for step in found:
        offset = float(step.get("ts", 0)) - start
        reason = f"  ({step['reason']})" if step.get("reason") else ""
        lines.append(
            f"  hop {step.get('hops', '?')!s:>2} +{offset:8.3f} s  {step.get('component', '?'):<20}"
            f" {step.get('outcome', '?'):<14} message {step.get('message_id')}, "
            f"{step.get('duration_ms', 0)} ms{reason}"
        )
    return "\n".join(lines)
