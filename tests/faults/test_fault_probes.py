"""Fault probes against the whole local run (process mode: the real local Lambda service, real
awslambdaric workers, moto's SQS): a fault costs only the message at fault."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_complex.builder.local import testbed
from lambda_complex.runtime import names

PROBE_APP = """\
name: probe
version: 0.1.0
deployment: {region: eu-west-1, registry: ecr}
coordinator: {concurrency: 1, min_interval: 1, timeout: 20}
components:
  - name: stage
    type: event_from_message
    max_concurrency: 2
    queue_wait_time: 0
    batch_size: 10
    max_receive_count: 3
    visibility_timeout: 4
    routing: sink
    lambda: {path: code, handler: fns.stage, timeout: 3}
  - name: sink
    type: event_from_message
    max_concurrency: 2
    queue_wait_time: 0
    batch_size: 10
    lambda: {path: code, handler: fns.sink, timeout: 10}
"""
PROBE_CODE = """\
import time

def stage(event, context):
    if event["n"] % 50 == 7:
        time.sleep(30)  # hangs past the function's 3 s timeout, every time
    return event

def sink(event, context):
    return None
"""
MESSAGES = 100


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testbed.Testbed]:
    root = tmp_path_factory.mktemp("probe")
    (root / "lambda-complex.yaml").write_text(PROBE_APP)
    (root / "code").mkdir()
    (root / "code" / "fns.py").write_text(textwrap.dedent(PROBE_CODE))
    with testbed.Testbed(root / "lambda-complex.yaml", "process", time_scale=0.05) as bed:
        yield bed


def test_one_message_in_50_hanging_dead_letters_only_those(
    probe: testbed.Testbed, tmp_path: Path
) -> None:
    probe.send_many("stage", [{"n": n} for n in range(MESSAGES)])
    hanging = {n for n in range(MESSAGES) if n % 50 == 7}
    assert probe.wait_idle(240), probe.report()
    got = probe.report()
    assert got["totals"]["lost"] == 0, got
    assert got["components"]["sink"]["succeeded"] == MESSAGES - len(hanging), got
    dlq = probe.client("sqs").get_queue_url(QueueName=names.dead_letter_queue_name("probe",
                                                                                   "stage"))
    dead: list[int] = []
    sqs = probe.client("sqs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=dlq["QueueUrl"], MaxNumberOfMessages=10,
                                    WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            break
        import json

        dead += [json.loads(m["Body"])["data"]["n"] for m in batch]
    assert sorted(dead) == sorted(hanging)  # innocent dead-lettered: 0
