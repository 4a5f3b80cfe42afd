"""Fault probes against the whole local run (process mode: the real local Lambda service, real
awslambdaric workers, moto's SQS): a fault costs only the message at fault, whichever way the
component at fault is started (`dispatch`: the coordinator, push, an SQS event source mapping).
One application holds a component of each dispatch kind per role and each probe loads every
kind at once, checking each on its own: three kinds cost about the time of one.

The module's tests share one run, in any order: each counts what it adds.
"""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lambda_complex.builder.local.run import testbed
from lambda_complex.runtime import config, names, protocol
from lambda_complex.runtime.consume import reserve_ms

KINDS = (config.COORDINATOR, config.PUSH, config.NATIVE)
APP = "probe"
# Each SIGKILL costs the message being handled one receive; the killing stops for a kind once
# it has KILLS (one call may kill both running instances: KILLS + 1 at most), so with
# max_receive_count KILLS + 2 no killed message is ever redriven to the dead-letter queue.
KILLS = 2
SPARE_TIMEOUT_S = 6
# A slow message takes half the handler time a `spare` invocation has (its timeout less the
# wrapper's reserve): it always fits, even on a loaded machine.
SLOW_S = (SPARE_TIMEOUT_S * 1000 - reserve_ms(SPARE_TIMEOUT_S, 0)) / 2000
HEADER = """\
name: probe
version: 0.1.0
deployment: {region: eu-west-1, registry: ecr}
coordinator: {concurrency: 1, min_interval: 1, timeout: 20}
components:
"""
# stage-KIND: the hanging probe's. The hanging message is dead-lettered on its third receive
# (by the wrapper, with a reason); a batch-mate handed back unstarted on its last receive is
# sent again as a new message. (Not 2: on a starved CPU an invocation may time out, which costs
# its whole batch a receive with no hand-back, and 2 leave no room for that.)
# spare-KIND: the SIGKILL probe's (as relay-KIND once the rename probe ran) and the rename
# probe's; one message per batch, so that no slow message is ever handed back unstarted (each
# time would cost it a receive). One component of each role per kind (plus the sink): the
# functions stack's template stays under CloudFormation's inline limit.
COMPONENT = """\
  - name: {name}
    type: event_from_message
    dispatch: {kind}
    max_concurrency: 2
    queue_wait_time: 0
    batch_size: {batch_size}
    max_receive_count: {max_receive_count}
    visibility_timeout: {visibility_timeout}
    routing: sink
    lambda: {{path: code, handler: fns.stage, timeout: {timeout}}}
"""
ROLES = {
    "stage": {"batch_size": 10, "max_receive_count": 3, "timeout": 3, "visibility_timeout": 4},
    "spare": {"batch_size": 1, "max_receive_count": KILLS + 2, "timeout": SPARE_TIMEOUT_S,
              "visibility_timeout": SPARE_TIMEOUT_S + 2},
}
SINK = """\
  - name: sink
    type: event_from_message
    max_concurrency: 2
    queue_wait_time: 0
    batch_size: 10
    lambda: {path: code, handler: fns.sink, timeout: 10, environment: {SEEN: "{seen}"}}
"""
# A message with "slow" takes that long while the file it names as "gate" does not exist: the
# test holds a backlog in place until the fault has been dealt (and opens the gate to drain it).
# "mark": a file (suffixed -KIND) the handler creates as it starts: the SIGKILL probe kills a
# kind's instances only once it exists.
PROBE_CODE = """\
import os, time

def stage(event, context):
    if event.get("hang"):
        time.sleep(30)  # past the function's timeout, every time
    if event.get("mark"):
        open(f"{event['mark']}-{event['kind']}", "a").close()
    if event.get("slow") and not os.path.exists(event["gate"]):
        time.sleep(event["slow"])
    return event

def sink(event, context):
    with open(os.environ["SEEN"], "a") as f:  # the test's own end-to-end count
        f.write(f"{event['kind']} {event['n']}\\n")
"""
MESSAGES = 100
HANGING = frozenset(n for n in range(MESSAGES) if n % 50 == 7)


def probe_app(seen: Path) -> str:
    parts = [HEADER]
    for kind in KINDS:
        for role, settings in ROLES.items():
            parts.append(COMPONENT.format(name=f"{role}-{kind}", kind=kind, **settings))
    return "".join(parts) + SINK.replace("{seen}", str(seen))


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testbed.Testbed]:
    root = tmp_path_factory.mktemp("probe")
    (root / "lambda-complex.yaml").write_text(probe_app(root / "seen"))
    (root / "code").mkdir()
    (root / "code" / "fns.py").write_text(textwrap.dedent(PROBE_CODE))
    with testbed.Testbed(root / "lambda-complex.yaml", "process", time_scale=0.05) as bed:
        yield bed


def _send_to_each_kind(bed: testbed.Testbed, role: str, items: Sequence[dict[str, Any]]) -> None:
    """Each item to `role-KIND` of every kind, interleaved: every kind's queue fills at the same
    pace, so each kind is under load (and may be killed mid-batch) at the same time."""
    _send_to_each(bed, {kind: f"{role}-{kind}" for kind in KINDS}, items)


def _send_to_each(bed: testbed.Testbed, component: dict[str, str],
                  items: Sequence[dict[str, Any]]) -> None:
    """`_send_to_each_kind` to each kind's component of the role, whatever its name now."""
    for item in items:
        for kind in KINDS:
            bed.send(component[kind], {"kind": kind, **item})


def _current(bed: testbed.Testbed, *candidates: str) -> str:
    """The first of `candidates` the definition has now (`spare`, or `relay` once renamed)."""
    have = {c.name for c in bed.components}
    return next(name for name in candidates if name in have)


def _seen(path: Path) -> dict[str, list[int]]:
    """What the sink wrote: each kind's inputs that reached the end (duplicates kept)."""
    found: dict[str, list[int]] = {kind: [] for kind in KINDS}
    if path.exists():
        for line in path.read_text().splitlines():
            kind, n = line.split()
            found[kind].append(int(n))
    return found


def _fresh_seen(bed: testbed.Testbed) -> Path:
    path = Path(bed.app.root / "seen")
    path.unlink(missing_ok=True)
    return path


def _dead_letters(bed: testbed.Testbed, component: str) -> list[tuple[int, str]]:
    """(n, reason) of every message in the component's dead-letter queue, left there."""
    sqs = bed.client("sqs")
    url = bed.queue_url(names.dead_letter_queue_name(APP, component))
    found: list[tuple[int, str]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    MessageAttributeNames=["All"],
                                    VisibilityTimeout=30).get("Messages", [])
        if not batch:
            return found
        for m in batch:
            reason = m.get("MessageAttributes", {}).get(protocol.REASON_ATTRIBUTE, {})
            found.append((json.loads(m["Body"])["data"]["n"], reason.get("StringValue", "")))


def _assert_nothing_lost(got: dict[str, Any], components: Sequence[str]) -> None:
    lost = {c: got["accounting"][c]["lost"] for c in components}
    assert lost == dict.fromkeys(components, 0), got["accounting"]


def _wait_idle(bed: testbed.Testbed) -> dict[str, Any]:
    # Bound: the hanging message's three receives, held back (`batch.hold_back_s`) twice, with
    # every other backlog of the probes many times over.
    assert bed.wait_idle(180, interval=0.1), bed.report()
    return bed.report()


def test_one_message_in_50_hanging_dead_letters_only_those(probe: testbed.Testbed) -> None:
    seen_path = _fresh_seen(probe)
    stages = [f"stage-{kind}" for kind in KINDS]
    _send_to_each_kind(probe, "stage", [{"n": n, "hang": n in HANGING} for n in range(MESSAGES)])
    got = _wait_idle(probe)
    _assert_nothing_lost(got, [*stages, "sink"])
    seen = _seen(seen_path)
    for kind in KINDS:
        dead = [(n, why) for n, why in _dead_letters(probe, f"stage-{kind}") if n < MESSAGES]
        dead_ns = sorted(n for n, _ in dead)
        assert dead_ns == sorted(HANGING), f"{kind}: dead-lettered {dead_ns}, not the hanging"
        # every innocent reached the end (at least once: an invocation that answers late has
        # its whole batch back)
        missing = sorted(set(range(MESSAGES)) - HANGING - set(seen[kind]))
        assert not missing, f"{kind}: {missing} never reached the end"
        # On its last receive the hanging message is dead-lettered by the wrapper, with a reason
        # (left to SQS's redrive it would arrive with none).
        assert all("time ran out" in why for _, why in dead), f"{kind}: reasons {dead}"
        print(f"\nhanging ({kind}): {len(HANGING)} of {MESSAGES} hang; dead-lettered {dead_ns}, "
              f"innocent dead-lettered 0, lost {got['accounting'][f'stage-{kind}']['lost']}")


def test_workers_killed_mid_batch_lose_nothing_and_the_report_agrees(
    probe: testbed.Testbed, tmp_path: Path,
) -> None:
    assert probe.service is not None
    seen_path = _fresh_seen(probe)
    before = probe.report()["accounting"]
    role = {kind: _current(probe, f"spare-{kind}", f"relay-{kind}") for kind in KINDS}
    gate = tmp_path / "killed"  # slow until every kind has been killed KILLS times
    mark = tmp_path / "handling"
    inputs = list(range(1000, 1030))
    # Killing starts while the inputs are being sent; the slow messages keep every kind busy
    # until it has been killed often enough, each kill while a handler runs.
    items = [{"n": n, "slow": SLOW_S, "gate": str(gate), "mark": str(mark)} for n in inputs]
    sender = threading.Thread(target=_send_to_each, args=(probe, role, items))
    sender.start()
    kills = dict.fromkeys(KINDS, 0)
    # Bound: the first invocations' cold starts, then a coordinator-started kind's second slot
    # (its first waits out the killed invocation's lease), with room.
    deadline = time.monotonic() + 60
    try:
        while min(kills.values()) < KILLS and time.monotonic() < deadline:
            for kind in KINDS:
                running = Path(f"{mark}-{kind}")
                if kills[kind] < KILLS and running.exists():  # SIGKILL, mid-batch
                    killed = probe.service.kill_running(names.function_name(APP, role[kind]))
                    if killed:
                        kills[kind] += killed
                        running.unlink()
            time.sleep(0.1)
    finally:
        gate.touch()
        sender.join()
    assert min(kills.values()) >= KILLS, f"not every kind was killed {KILLS} times: {kills}"
    got = _wait_idle(probe)
    _assert_nothing_lost(got, [*role.values(), "sink"])
    seen = _seen(seen_path)
    for kind in KINDS:  # every input reached the end (duplicates allowed)
        missing = sorted(set(inputs) - set(seen[kind]))
        assert not missing, f"{kind}: {missing} never reached the end"
    lines = sum(len(v) for v in seen.values())
    sink_created = got["accounting"]["sink"]["created"] - before["sink"]["created"]
    sink_done = got["accounting"]["sink"]["done"] - before["sink"]["done"]
    assert sink_created == sink_done == lines  # the report counts what the test counted
    print(f"\nSIGKILL: workers killed mid-batch {kills}; every input of each kind reached the "
          f"end ({ {k: len(v) - len(set(v)) for k, v in seen.items()} } duplicates); report: "
          f"sink created {sink_created} = done {sink_done} = test's count")


def test_a_rename_under_load_brings_every_message_to_the_renamed_component(
    probe: testbed.Testbed, tmp_path: Path,
) -> None:
    """`spare-KIND` becomes `relay-KIND` (renamed_from) while its queue holds a backlog; the
    local run follows the redeploy through the same switchover as AWS: every input reaches the
    end."""
    seen_path = _fresh_seen(probe)
    gate = tmp_path / "deployed"
    # 60 slow messages per kind, one per invocation and 2 invocations at once: about a minute
    # of work for each kind, a few times what the deploy takes to pause the application (its
    # begin hook, 10-30 s in on a loaded machine); the rest waits there to be moved, and drains
    # at once after the deploy.
    inputs = list(range(2000, 2060))
    _send_to_each_kind(probe, "spare", [{"n": n, "slow": SLOW_S, "gate": str(gate)}
                                        for n in inputs])
    definition = probe.app.source
    text = definition.read_text()
    for kind in KINDS:
        text = text.replace(f"  - name: spare-{kind}\n",
                            f"  - name: relay-{kind}\n    renamed_from: spare-{kind}\n")
    definition.write_text(text)
    probe.redeploy()
    gate.touch()
    assert [c.name for c in probe.components] == [
        *(f"{role}-{kind}" for kind in KINDS for role in ("stage", "relay")), "sink"]
    got = _wait_idle(probe)
    relays = [f"relay-{kind}" for kind in KINDS]
    spares = [f"spare-{kind}" for kind in KINDS]
    _assert_nothing_lost(got, [*relays, *spares, "sink"])
    seen = _seen(seen_path)
    moved = {}
    for kind in KINDS:
        missing = sorted(set(inputs) - set(seen[kind]))
        assert not missing, (f"{kind}: {missing} never reached the end",
                             _dead_letters(probe, f"relay-{kind}"))
        assert got["accounting"][f"spare-{kind}"]["queued"] == 0, f"{kind}: spare not drained"
        moved[kind] = got["accounting"][f"relay-{kind}"]["created"]
        # what the switchover moved (the backlog was there), every one of them handled
        assert moved[kind] > 0, f"{kind}: the switchover moved nothing: {got['accounting']}"
        assert got["accounting"][f"relay-{kind}"]["done"] == moved[kind], kind
    # The renamed mapping's pollers took no batch its function could not handle (a receive
    # wasted on every message moved, before the local service ran the new function).
    mapping = got["event_source_mappings"][names.function_name(APP, f"relay-{config.NATIVE}")]
    assert mapping.get("failed_batches", 0) == 0, mapping
    print(f"\nrename under load: {len(inputs)} inputs per kind, moved by the switchover to "
          f"relay {moved}, all reached the end, lost 0")
