"""AWS API calls per message through a 3-component chain (a -> b -> c, all event_from_message).

Runs its own moto server, drives the real wrapper in-process (each component's invocations run
concurrently in threads, as Lambda would run them) and one real coordinator generation per round;
Invoke goes to a local stand-in for the Lambda data plane that records what the coordinator asked
for, and the bench then runs those invocations. Every AWS call is counted with a botocore
`before-call` hook on the default session. Prints figures; asserts nothing.

    .venv/bin/python bench/runtime_calls.py [--messages 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from lambda_complex.builder.local.aws import emulator
from lambda_complex.runtime import chains, coordinator, names, protocol, resources, wrapper
from lambda_complex.runtime.config import (
    COORDINATOR,
    EVENT_FROM_MESSAGE,
    PUSH,
    ComponentConfig,
    CoordinatorConfig,
    Routing,
    RuntimeConfig,
)

APP = "bench"
CHAIN = ("a", "b", "c")
OLD_DESIGN_CALLS_PER_MESSAGE = 5.0  # lambda-complex (Node.js): per message handled, plus polling


class Counts:
    def __init__(self) -> None:
        self.actor = "setup"
        self.calls: Counter[tuple[str, str]] = Counter()
        self.empty: Counter[str] = Counter()  # ReceiveMessage calls that returned nothing
        self.lock = threading.Lock()

    def hook(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """On `before-parameter-build`: once per API call (not per retry), with its parameters."""
        operation = f"{model.service_model.service_name}.{model.name}"
        if str(params.get("QueueUrl", "")).endswith("-inflight"):
            operation += "(lease)"  # in-flight accounting, reported apart from message work
        with self.lock:
            self.calls[(self.actor, operation)] += 1

    def after_receive(self, parsed: dict[str, Any], **_: Any) -> None:
        if not parsed.get("Messages"):
            with self.lock:
                self.empty[self.actor] += 1

    def total(self, actor: str) -> int:
        return sum(n for (a, _), n in self.calls.items() if a == actor)


class LambdaStandIn:
    """Accepts Invoke (202) and records (function name, payload)."""

    def __init__(self) -> None:
        self.invoked: list[tuple[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                stand_in.invoked.append((self.path.split("/")[3], payload))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def take(self) -> list[tuple[str, Any]]:
        taken, self.invoked = self.invoked, []
        return taken


class Context:
    def __init__(self, function: str) -> None:
        self.deadline = time.monotonic() + 60
        self.aws_request_id = os.urandom(8).hex()
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function}"

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


def components(batch_size: int, root: Path, dispatch: str) -> dict[str, ComponentConfig]:
    (root / "passthrough.py").write_text("def handler(event, context):\n    return event\n")
    out = {}
    for i, name in enumerate(CHAIN):
        targets = (CHAIN[i + 1],) if i + 1 < len(CHAIN) else ()
        out[name] = ComponentConfig(
            name=name,
            type=EVENT_FROM_MESSAGE,
            max_concurrency=4,
            timeout=60,
            handler="passthrough.handler",
            routing=Routing(components=targets),
            batch_size=batch_size,
            queue_wait_time=0,
            max_receive_count=3,
            visibility_timeout=60,
            dispatch=dispatch,
        )
    return out


def create_queues(sqs: Any) -> None:
    for name in CHAIN:
        dlq = sqs.create_queue(QueueName=names.dead_letter_queue_name(APP, name))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
        redrive = {"deadLetterTargetArn": arn["QueueArn"], "maxReceiveCount": 3}
        sqs.create_queue(
            QueueName=names.queue_name(APP, name),
            Attributes={"VisibilityTimeout": "60", "RedrivePolicy": json.dumps(redrive)},
        )
        sqs.create_queue(QueueName=names.inflight_queue_name(APP, name))


def run(
    batch_size: int, passes: list[tuple[str, int]], server: emulator.Emulator, counts: Counts,
    dispatch: str = PUSH,
) -> list[dict[str, Any]]:
    """One fresh deployment, then passes of (name, messages) through it: the first pass is cold
    (empty lease pools, new containers), later ones warm. Passes named "" are not reported."""
    server.reset()
    resources.reset()
    root = Path(tempfile.mkdtemp(prefix="lc-bench-"))
    os.environ["LAMBDA_TASK_ROOT"] = str(root)
    comps = components(batch_size, root, dispatch)
    coordinator_config = CoordinatorConfig(concurrency=1, min_interval=0, max_invocations=20)

    def config_for(component: str) -> RuntimeConfig:
        return RuntimeConfig(APP, "1", component, comps, coordinator_config)

    # One "container" per component: its loaded config and handler, swapped in for its invocations.
    containers = {}
    for name in CHAIN:
        path = root / f"{name}.json"
        path.write_text(config_for(name).to_json())
        os.environ["LAMBDA_COMPLEX_CONFIG"] = str(path)
        wrapper._loaded = None
        containers[name] = wrapper.load()
    wrapper._loaded = None
    sqs = boto3.client("sqs")
    create_queues(sqs)
    coord_config = config_for(names.COORDINATOR)
    results = [
        drive(pass_name, batch_size, messages, sqs, containers, coord_config, counts)
        for pass_name, messages in passes
    ]
    return [{**r, "dispatch": dispatch} for r in results if r["pass"]]


def drive(
    pass_name: str,
    batch_size: int,
    messages: int,
    sqs: Any,
    containers: dict[str, Any],
    coord_config: RuntimeConfig,
    counts: Counts,
) -> dict[str, Any]:
    url = sqs.get_queue_url(QueueName=names.queue_name(APP, "a"))["QueueUrl"]
    for start in range(0, messages, 10):
        entries = [
            {"Id": str(i), "MessageBody": protocol.new_envelope({"n": i}).to_json()}
            for i in range(start, min(messages, start + 10))
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    stand_in.take()
    counts.calls.clear()
    counts.empty.clear()

    summary: Counter[str] = Counter()
    rounds = invocations = 0
    lineage = chains.new_lineage(time.time())  # a new chain per pass: generations count from 1
    started = time.perf_counter()
    while summary["c_handled"] < messages and rounds < 50:
        rounds += 1
        counts.actor = "coordinator"
        event = {"chain": 0, "generation": rounds, "lineage": lineage}
        coordinator.run_generation(
            coord_config, event, Context("coordinator"), sleep=lambda _: None
        )
        counts.actor = "components"
        planned = stand_in.take()
        for name in CHAIN:
            payloads = [p for f, p in planned if f == names.function_name(APP, name)]
            if not payloads:
                continue
            invocations += len(payloads)
            wrapper._loaded = containers[name]
            with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
                results = list(
                    pool.map(lambda p: wrapper.handler(p, Context(name)), payloads)  # noqa: B023
                )
            for result in results:
                summary[f"{name}_handled"] += result["handled"]
                summary["failed"] += result["failed"] + result["dead_lettered"]
    elapsed = time.perf_counter() - started
    counts.actor = "setup"
    component_calls = counts.total("components")
    lease_calls = sum(
        n for (a, op), n in counts.calls.items() if a == "components" and op.endswith("(lease)")
    )
    handled = sum(summary[f"{n}_handled"] for n in CHAIN)
    fixed = lease_calls + counts.empty["components"]
    coordinator_calls = counts.total("coordinator")
    return {
        "pass": pass_name,
        "batch_size": batch_size,
        "messages": messages,
        "through": summary["c_handled"],
        "duplicates": handled - len(CHAIN) * messages,
        "failed": summary["failed"],
        "rounds": rounds,
        "invocations": invocations,
        "component_calls": component_calls,
        "calls_per_message": component_calls / messages,
        "lease_calls": lease_calls,
        "empty_receives": counts.empty["components"],
        "fixed_calls": fixed,
        "marginal_calls_per_message": (component_calls - fixed) / messages,
        "calls_per_handled_message": component_calls / max(1, handled),
        "coordinator_calls": coordinator_calls,
        "coordinator_calls_per_round": coordinator_calls / rounds,
        "all_calls_per_message": (component_calls + coordinator_calls) / messages,
        "by_operation": {
            op: n for (actor, op), n in sorted(counts.calls.items()) if actor == "components"
        },
        "seconds": round(elapsed, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100, help="messages of the cold runs")
    parser.add_argument("--dispatch", default=f"{COORDINATOR},{PUSH}",
                        help="dispatch kinds, each a full set of passes (comma list)")
    parser.add_argument(
        "--sweep", default="100,300,1000", help="messages of the warm batch-10 runs (comma list)"
    )
    args = parser.parse_args()
    sweep = [int(n) for n in args.sweep.split(",") if n]
    global stand_in
    stand_in = LambdaStandIn()
    with emulator.start() as server:
        os.environ.update(server.client_env())
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = stand_in.url
        boto3.setup_default_session(region_name=server.region)
        counts = Counts()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("before-parameter-build", counts.hook)
        boto3.DEFAULT_SESSION.events.register("after-call.sqs.ReceiveMessage", counts.after_receive)
        # Component logs would drown the figures.
        sys.stdout, real_stdout = open(os.devnull, "w"), sys.stdout  # noqa: SIM115
        try:
            n = args.messages
            results = []
            for kind in args.dispatch.split(","):
                results += run(1, [("cold", n)], server, counts, kind)
                results += run(10, [("cold", n)], server, counts, kind)
                results += run(10, [("", 40)] + [("warm", m) for m in sweep], server, counts,
                               kind)
        finally:
            sys.stdout.close()
            sys.stdout = real_stdout
    print("AWS API calls through a 3-component chain a -> b -> c (max_concurrency 4 each);")
    print("cold = new deployment (empty lease pools, new containers), warm = the same one again")
    for r in results:
        print(
            f"dispatch {r['dispatch']}, batch_size {r['batch_size']:>2}, "
            f"{r['messages']:>4} messages, {r['pass']}: "
            f"{r['calls_per_message']:.2f} calls per message end to end, "
            f"{r['calls_per_handled_message']:.2f} per message handled; "
            f"{r['component_calls']} calls in {r['invocations']} invocations "
            f"({r['fixed_calls']} of them per-invocation: {r['lease_calls']} lease hand-backs, "
            f"{r['empty_receives']} conclusive empty receives); "
            f"{r['through']}/{r['messages']} through, {r['failed']} failed, "
            f"{r['duplicates']} duplicate deliveries, {r['seconds']} s"
        )
        print(f"    by operation: {r['by_operation']}")
        print(
            f"    coordinator (separate): {r['coordinator_calls']} calls in {r['rounds']} "
            f"generations = {r['coordinator_calls_per_round']:.1f} per generation, leases "
            f"included; everything together {r['all_calls_per_message']:.2f} per message"
        )
    print("  (duplicates = at-least-once redeliveries; none expected here)")
    for r in results:
        if r["batch_size"] != 10:
            continue
        per_hop = r["calls_per_handled_message"]
        end_to_end = r["calls_per_message"]
        print(
            f"batch_size 10, {r['messages']:>4} messages, {r['pass']}: {per_hop:.2f} calls per "
            f"message handled vs ~{OLD_DESIGN_CALLS_PER_MESSAGE:.0f} one message at a time "
            f"({OLD_DESIGN_CALLS_PER_MESSAGE / per_hop:.1f}x fewer; target <= 1: "
            f"{'met' if per_hop <= 1 else 'NOT met'}); end to end through all three "
            f"{end_to_end:.2f} per input message ({r['marginal_calls_per_message']:.2f} + "
            f"{r['fixed_calls'] / r['invocations']:.1f} per invocation; <= 1: "
            f"{'met' if end_to_end <= 1 else 'NOT met'})"
        )
    largest = max((r for r in results if r["batch_size"] == 10), key=lambda r: r["messages"])
    fixed = largest["fixed_calls"] / largest["invocations"]
    marginal = largest["marginal_calls_per_message"]
    if marginal < 1:
        print(
            f"end to end = {marginal:.2f} per message + {fixed:.1f} per invocation: <= 1 once an "
            f"invocation averages {len(CHAIN) * fixed / (1 - marginal):.0f} messages or more"
        )
    return 0


stand_in: LambdaStandIn

if __name__ == "__main__":
    sys.exit(main())
