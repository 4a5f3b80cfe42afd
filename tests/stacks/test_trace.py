"""`lcbuild trace`: one input's log lines from every component, in causal order; against
CloudWatch Logs (moto) here, against a local run's log files in tests/local/test_local_run.py."""

from __future__ import annotations

import json
import time

import boto3
from click.testing import CliRunner

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cli import cli
from lambda_complex.builder.deploy import trace
from lambda_complex.builder.local.aws.emulator import Emulator

from .conftest import ROOT


def line(component: str, hops: int, ts: float, trace_id: str = "t1", **extra: object) -> str:
    return json.dumps({"ts": ts, "event": "message", "component": component, "trace_id": trace_id,
                       "message_id": f"{component}-{hops}", "outcome": "succeeded",
                       "duration_ms": 1.5, "hops": hops, **extra})


def test_lines_of_one_trace_in_causal_order() -> None:
    raw = [
        line("render", 1, 10.0),
        "START RequestId: t1 Version: $LATEST",  # Lambda's own lines: not the wrapper's
        line("publish", 2, 9.5),  # logged before its input's line (batch still being finished)
        line("ingest", 0, 8.0),
        line("ingest", 0, 8.1, trace_id="t2"),
        '{"event": "invocation", "trace_id": "t1"}',
        "{not json",
    ]
    records = [r for r in map(trace.parse_line, raw) if r is not None]
    found = trace.steps(records, "t1")
    assert [(s["component"], s["hops"]) for s in found] == [
        ("ingest", 0), ("render", 1), ("publish", 2)]
    failed = [json.loads(line("render", 1, 9.0, outcome="failed", reason="handler raised X"))]
    text = trace.format_text("t1", found + failed)
    assert text.splitlines()[0] == "trace t1: 4 step(s)"
    assert "(handler raised X)" in text and "+   2.000 s" in text
    assert trace.format_text("t9", []) == "no log line carries trace id t9"


def test_trace_from_cloudwatch_logs(aws: Emulator, example_app: App) -> None:
    logs = boto3.client("logs")
    start = time.time()
    for i, (component, hops) in enumerate([("render", 1), ("ingest", 0), ("toc", 1)]):
        group = f"/aws/lambda/sitegen-{component}"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
            {"timestamp": int((start + i) * 1000), "message": line(component, hops, start + i)},
            {"timestamp": int((start + i) * 1000), "message": line(component, hops, start, "t2")},
        ])
    result = CliRunner().invoke(cli, ["trace", "t1", "--json", "--app",
                                      str(ROOT / "lambda-complex.yaml")])
    assert result.exit_code == 0, result.output
    assert [(s["component"], s["hops"]) for s in json.loads(result.output)] == [
        ("ingest", 0), ("render", 1), ("toc", 1)]
