"""Dispatch benchmark (process mode): a backlog of N messages through one component with
concurrency limit C and handler time t, once per dispatch kind. Prints makespan / ideal (N*t/C),
timed from the first send to the last message done, the backlog landing on a deployed,
running application: the deploy is not timed, nor the coordinator's first generation (the
deploy starts its chain: the switchover's schedule tick), which the bench waits for. The highest
concurrency observed (must not exceed C), lost messages, and the emulator's own per-call cost
(mean SQS SendMessage / ReceiveMessage latency, same emulator).

The backlog is sent from outside, as a producer would, so `push` starts nothing here (no
component sends to the queue): its row shows that push costs a backlog nothing. `native` is an
SQS event source mapping (the local pollers) with MaximumConcurrency C.

    .venv/bin/python bench/dispatch.py [--n 500] [--c 5] [--t 0.2] [--min-interval 2]
                                       [--kinds coordinator,push,native]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from lambda_complex.builder.local.run import testbed
from lambda_complex.runtime import protocol
from lambda_complex.runtime.config import COORDINATOR, DISPATCH_KINDS, NATIVE, PUSH

DISPATCH_KINDS_ORDER = (COORDINATOR, PUSH, NATIVE)

APP = """\
name: bench
version: 0.1.0
deployment: {{region: eu-west-1, registry: ecr}}
coordinator: {{concurrency: 1, min_interval: {min_interval}, timeout: 60}}
components:
  - name: work
    type: event_from_message
    max_concurrency: {c}
    queue_wait_time: 1
    batch_size: 10
    visibility_timeout: 30
    dispatch: {dispatch}
    lambda: {{path: code, handler: fns.work, timeout: 30}}
"""
CODE = """\
import time

def work(event, context):
    time.sleep(event["t"])
"""


def emulator_cost(bed: testbed.Testbed, calls: int = 50) -> tuple[float, float]:
    """Mean ms of SendMessage and ReceiveMessage on a fresh queue of the same emulator."""
    sqs = bed.client("sqs")
    url = sqs.create_queue(QueueName="bench-probe")["QueueUrl"]
    sends, receives = [], []
    for _ in range(calls):
        start = time.perf_counter()
        sqs.send_message(QueueUrl=url, MessageBody="x")
        sends.append(time.perf_counter() - start)
    for _ in range(calls):
        start = time.perf_counter()
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
        receives.append(time.perf_counter() - start)
    return statistics.mean(sends) * 1000, statistics.mean(receives) * 1000


def depth_cost(bed: testbed.Testbed, depth: int) -> tuple[float, float]:
    """Mean ms of SendMessageBatch(10) and ReceiveMessage(10) on a queue `depth` deep: plain
    moto's cost grows with depth (the embedded emulator's launcher keeps sends O(1) and receives
    close to it)."""
    sqs = bed.client("sqs")
    url = sqs.create_queue(QueueName="bench-depth")["QueueUrl"]
    entries = [{"Id": str(i), "MessageBody": "x"} for i in range(10)]
    for _ in range(depth // 10):
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    sends, receives = [], []
    for _ in range(10):
        start = time.perf_counter()
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        sends.append(time.perf_counter() - start)
        start = time.perf_counter()
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        receives.append(time.perf_counter() - start)
    return statistics.mean(sends) * 1000, statistics.mean(receives) * 1000


def run(n: int, c: int, t: float, min_interval: int, dispatch: str) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="lc-bench-"))
    (root / "lambda-complex.yaml").write_text(
        APP.format(c=c, min_interval=min_interval, dispatch=dispatch))
    (root / "code").mkdir()
    (root / "code" / "fns.py").write_text(textwrap.dedent(CODE))
    (root / "code" / "requirements.txt").write_text("")
    with testbed.Testbed(root / "lambda-complex.yaml", "process") as bed:
        assert bed.tap is not None
        sqs = bed.client("sqs", bed.tap.url)
        url = bed.queue_url("bench-work")
        body = protocol.new_envelope({"t": t}).to_json()
        running = time.time()
        while not any(x.get("event") == "chain_generation" for x in bed.logs.poll()):
            if time.time() - running > 60:
                raise SystemExit("the coordinator's chain did not start within 60 s")
            time.sleep(0.1)
        start = time.time()
        for first in range(0, n, 10):
            entries = [{"Id": str(i), "MessageBody": body} for i in range(min(10, n - first))]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        bed.sent = n
        sent_s = time.time() - start
        assert bed.wait_idle(timeout=20 * n * t / c + 120, interval=0.1)
        result = bed.report()
        done = [x for x in bed.logs.poll() if x.get("event") == "message"
                and x.get("outcome") == "succeeded"]
        makespan = max(x["ts"] for x in done) - start
        first_done = min(x["ts"] for x in done) - start
        send_ms, receive_ms = emulator_cost(bed)
        batch_send_ms, batch_receive_ms = depth_cost(bed, n)
    work = result["components"]["work"]
    ideal = n * t / c
    return {
        "dispatch": dispatch, "n": n, "c": c, "t": t, "min_interval": min_interval,
        "send_s": round(sent_s, 2), "makespan_s": round(makespan, 2),
        "first_done_s": round(first_done, 2), "ideal_s": round(ideal, 2),
        "ratio": round(makespan / ideal, 3),
        "max_concurrency_observed": work["max_concurrency_observed"],
        "succeeded": work["succeeded"], "invocations": work["invocations"],
        "lost": result["totals"]["lost"],
        "emulator_send_ms": round(send_ms, 2), "emulator_receive_ms": round(receive_ms, 2),
        "emulator_batch_send_ms_at_n": round(batch_send_ms, 1),
        "emulator_batch_receive_ms_at_n": round(batch_receive_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--c", type=int, default=5)
    parser.add_argument("--t", type=float, default=0.2)
    parser.add_argument("--min-interval", type=int, default=2)
    parser.add_argument("--kinds", default=",".join(DISPATCH_KINDS_ORDER),
                        help="dispatch kinds, one run each (comma list)")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    for kind in kinds:
        if kind not in DISPATCH_KINDS:
            parser.error(f"--kinds: unknown dispatch kind {kind!r} (known: "
                         f"{', '.join(DISPATCH_KINDS)})")
    for kind in kinds:
        report(run(args.n, args.c, args.t, args.min_interval, kind))


def report(r: dict[str, Any]) -> None:
    print(f"\ndispatch {r['dispatch']}: N={r['n']} C={r['c']} t={r['t']}s "
          f"min_interval={r['min_interval']}s")
    print(f"makespan {r['makespan_s']} s / ideal {r['ideal_s']} s = {r['ratio']} (target <= 1.15)"
          f"; sending took {r['send_s']} s; first message done after {r['first_done_s']} s")
    print(f"max concurrency observed {r['max_concurrency_observed']} (limit {r['c']}); "
          f"succeeded {r['succeeded']}, invocations {r['invocations']}, lost {r['lost']}")
    print(f"emulator per call: SendMessage {r['emulator_send_ms']} ms, "
          f"ReceiveMessage {r['emulator_receive_ms']} ms (empty queue); at depth {r['n']}: "
          f"SendMessageBatch(10) {r['emulator_batch_send_ms_at_n']} ms, "
          f"ReceiveMessage(10) {r['emulator_batch_receive_ms_at_n']} ms")


if __name__ == "__main__":
    main()
