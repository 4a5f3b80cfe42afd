"""Fault probes against the whole local run (process mode: the real local Lambda service, real
awslambdaric workers, moto's SQS): a fault costs only the message at fault."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambda_complex.builder.local.run import testbed
from lambda_complex.runtime import names, protocol

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
  - name: spare
    type: event_from_message
    max_concurrency: 2
    queue_wait_time: 0
    batch_size: 10
    routing: sink
    lambda: {path: code, handler: fns.stage, timeout: 3}
  - name: sink
    type: event_from_message
    max_concurrency: 2
    queue_wait_time: 0
    batch_size: 10
    lambda: {path: code, handler: fns.sink, timeout: 10, environment: {SEEN: "{seen}"}}
"""
PROBE_CODE = """\
import os, time

def stage(event, context):
    if event.get("hang"):
        time.sleep(30)  # past the function's 3 s timeout, every time
    time.sleep(event.get("sleep", 0))
    return event

def sink(event, context):
    with open(os.environ["SEEN"], "a") as f:  # the test's own end-to-end count
        f.write(f"{event['n']}\\n")
"""
MESSAGES = 100


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testbed.Testbed]:
    root = tmp_path_factory.mktemp("probe")
    (root / "lambda-complex.yaml").write_text(PROBE_APP.replace("{seen}", str(root / "seen")))
    (root / "code").mkdir()
    (root / "code" / "fns.py").write_text(textwrap.dedent(PROBE_CODE))
    with testbed.Testbed(root / "lambda-complex.yaml", "process", time_scale=0.05) as bed:
        yield bed


def test_one_message_in_50_hanging_dead_letters_only_those(
    probe: testbed.Testbed, tmp_path: Path
) -> None:
    # The module's tests share one run, in any order: count what this test adds.
    hanging = {n for n in range(MESSAGES) if n % 50 == 7}
    before = probe.report()["components"]["sink"]["succeeded"]
    probe.send_many("stage", [{"n": n, "hang": n in hanging} for n in range(MESSAGES)])
    assert probe.wait_idle(240), probe.report()
    got = probe.report()
    assert got["totals"]["lost"] == 0, got
    assert got["components"]["sink"]["succeeded"] - before == MESSAGES - len(hanging), got
    dlq = probe.client("sqs").get_queue_url(QueueName=names.dead_letter_queue_name("probe",
                                                                                   "stage"))
    dead: list[int] = []
    reasons: list[str] = []
    sqs = probe.client("sqs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        batch = sqs.receive_message(QueueUrl=dlq["QueueUrl"], MaxNumberOfMessages=10,
                                    WaitTimeSeconds=0, MessageAttributeNames=["All"],
                                    VisibilityTimeout=30).get("Messages", [])
        if not batch:
            break
        for m in batch:
            n = json.loads(m["Body"])["data"]["n"]
            if n < MESSAGES:  # this test's inputs (the others' are numbered from 1000)
                dead.append(n)
                reasons.append(m.get("MessageAttributes", {}).get(
                    protocol.REASON_ATTRIBUTE, {}).get("StringValue", ""))
    assert sorted(dead) == sorted(hanging)  # innocent dead-lettered: 0
    # On its last receive the watchdog dead-letters the hanging message itself, with a reason.
    assert all("time ran out" in reason for reason in reasons), reasons
    print(f"\nhanging: {len(hanging)} of {MESSAGES} hang; dead-lettered {sorted(dead)}, "
          f"innocent dead-lettered {len(set(dead) - hanging)}, lost {got['totals']['lost']}")


def test_workers_killed_mid_batch_lose_nothing_and_the_report_agrees(
    probe: testbed.Testbed,
) -> None:
    assert probe.service is not None
    seen = Path(probe.app.root / "seen")
    seen.unlink(missing_ok=True)
    before = probe.report()["accounting"]
    inputs = list(range(1000, 1000 + MESSAGES))
    probe.send_many("stage", [{"n": n, "sleep": 0.05} for n in inputs])
    kills, deadline = 0, time.monotonic() + 60
    while kills < 6 and time.monotonic() < deadline:
        kills += probe.service.kill_running("probe-stage")  # SIGKILL, mid-batch
        time.sleep(0.4)
    assert kills >= 3
    assert probe.wait_idle(240), probe.report()
    got = probe.report()
    lines = [int(n) for n in seen.read_text().split()]
    assert set(lines) == set(inputs)  # every input reached the end (duplicates allowed)
    assert got["totals"]["lost"] == 0, got
    sink_created = got["accounting"]["sink"]["created"] - before["sink"]["created"]
    sink_done = got["accounting"]["sink"]["done"] - before["sink"]["done"]
    assert sink_created == sink_done == len(lines)  # the report counts what the test counted
    print(f"\nSIGKILL: {kills} workers killed mid-batch; {len(set(lines))}/{len(inputs)} inputs "
          f"reached the end ({len(lines) - len(set(lines))} duplicates); report: lost "
          f"{got['totals']['lost']}, sink created {sink_created} = done {sink_done} = test's count")


def test_a_rename_under_load_brings_every_message_to_the_renamed_component(
    probe: testbed.Testbed,
) -> None:
    """`spare` becomes `relay` (renamed_from: spare) while its queue holds a backlog; the local
    run follows the redeploy through the same switchover as AWS: every input reaches the end.
    (`spare` is this test's own, so the module's other tests may run after it.)"""
    seen = Path(probe.app.root / "seen")
    seen.unlink(missing_ok=True)
    # 300 x 0.1 s at concurrency 2 outlasts the deploy's pause (its begin hook, seconds in):
    # invocations running then end within their 3 s timeout, the rest waits to be moved.
    inputs = list(range(2000, 2300))
    probe.send_many("spare", [{"n": n, "sleep": 0.1} for n in inputs])
    time.sleep(1)
    definition = probe.app.source
    definition.write_text(definition.read_text().replace(
        "  - name: spare\n", "  - name: relay\n    renamed_from: spare\n"))
    probe.redeploy()
    assert [c.name for c in probe.components] == ["stage", "relay", "sink"]
    assert probe.wait_idle(240), probe.report()
    got = probe.report()
    assert set(int(n) for n in seen.read_text().split()) == set(inputs)
    assert got["totals"]["lost"] == 0, got["accounting"]
    assert got["accounting"]["spare"]["queued"] == 0  # its queue was drained into relay's
    moved = got["accounting"]["relay"]["created"]
    assert moved > 0 and got["accounting"]["relay"]["done"] == moved  # what the switchover moved
    print(f"\nrename under load: {len(inputs)} inputs, {moved} moved by the switchover to relay, "
          f"all {len(set(int(n) for n in seen.read_text().split()))} reached the end, "
          f"lost {got['totals']['lost']}")
