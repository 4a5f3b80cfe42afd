"""Lambda's recursive loop detection in the local Lambda service: a function invoked more than 16
times from one event is stopped unless its RecursiveLoop is Allow
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html). The chain is followed
through the trace header that botocore passes on inside the real awslambdaric."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lambda_complex.builder.local.lambda_service import loop_detection
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition

from .conftest import MakeService, lambda_client

AGAIN = '''
import json, boto3

def again(event, context):
    with open(event["file"], "a") as f:
        f.write(f"{event['n']}\\n")
    if event["n"] < event["until"]:
        boto3.client("lambda").invoke(
            FunctionName=context.function_name, InvocationType="Event",
            Payload=json.dumps({**event, "n": event["n"] + 1}))
'''
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


# Pure: the count carried by the trace header.
def test_each_hop_counts_per_function_along_the_path_not_across_siblings() -> None:
    first, n = loop_detection.descend(None, "a")
    assert n == 1 and first.startswith("Root=1-")
    root = first.split(";")[0]
    second, n = loop_detection.descend(first, "a")
    assert n == 2 and second.startswith(root + ";")
    child, n = loop_detection.descend(second, "b")
    assert n == 1  # b's first invocation in this chain
    _sibling, n = loop_detection.descend(second, "b")
    assert n == 1  # a second call from the same execution is a sibling, not a deeper hop
    _back, n = loop_detection.descend(child, "a")
    assert n == 3  # a -> a -> b -> a


def test_the_17th_invocation_is_stopped_unless_allowed() -> None:
    assert not loop_detection.stops(16, loop_detection.TERMINATE)
    assert loop_detection.stops(17, loop_detection.TERMINATE)
    assert not loop_detection.stops(17, loop_detection.ALLOW)
    assert loop_detection.lineage("Root=1-x;Lineage=garbage,ab:x") == {}


def _chain(
    code: Path, tmp_path: Path, make_service: MakeService, loop: str
) -> tuple[list[int], dict[str, int]]:
    (code / "again.py").write_text(AGAIN)
    fn = FunctionDefinition("again", "again.again", timeout=10, recursive_loop=loop)
    service = make_service(fn, aws_env=KEYS)
    record = tmp_path / f"{loop}.txt"
    lambda_client(service.url).invoke(
        FunctionName="again", InvocationType="Event",
        Payload=json.dumps({"n": 1, "until": 20, "file": str(record)}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stats = service.stats()["again"]
        if stats["async_accepted"] >= (17 if loop == loop_detection.TERMINATE else 20):
            break
        time.sleep(0.1)
    assert service.wait_idle(30)
    return [int(line) for line in record.read_text().split()], service.stats()["again"]


def test_a_self_invoking_function_is_stopped_at_its_17th_invocation(
    code_dir: Path, tmp_path: Path, make_service: MakeService
) -> None:
    ran, stats = _chain(code_dir, tmp_path, make_service, loop_detection.TERMINATE)
    assert ran == list(range(1, 17))
    assert stats["recursion_stopped"] == 1 and stats["invocations"] == 16


def test_with_recursive_loop_allow_the_chain_goes_on(
    code_dir: Path, tmp_path: Path, make_service: MakeService
) -> None:
    ran, stats = _chain(code_dir, tmp_path, make_service, loop_detection.ALLOW)
    assert ran == list(range(1, 21))
    assert stats["recursion_stopped"] == 0


def test_a_stopped_event_goes_to_the_destination_and_a_sync_call_fails(
    code_dir: Path, tmp_path: Path, make_service: MakeService
) -> None:
    service = make_service(FunctionDefinition("echo", "fns.echo", timeout=5), aws_env=KEYS)
    header = None
    for _ in range(16):
        header, _count = loop_detection.descend(header, "echo")
    status, body, headers = service.invoke("echo", b"{}", trace_header=header)
    assert status == 400 and headers["x-amzn-ErrorType"] == loop_detection.STOPPED
    assert "recursive loop" in json.loads(body)["message"]
    status, _, _ = service.invoke("echo", b"{}", "Event", trace_header=header)
    assert status == 202  # accepted, then stopped: no destination here, so dropped
    stats = service.stats()["echo"]
    assert stats["recursion_stopped"] == 2 and stats["dropped"] == 1
    assert stats["invocations"] == 0
    status, _, _ = service.invoke("echo", b"{}", trace_header=None)  # a new event: runs
    assert status == 200
