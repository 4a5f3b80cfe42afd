"""Asynchronous invocations: queued beyond the concurrency limit, retried, then dead-lettered."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition, queue_arn

from .conftest import MakeService, lambda_client


def test_async_invocations_beyond_the_limit_all_run_never_above_it(
    make_service: MakeService, tmp_path: Path
) -> None:
    limit, count = 2, 8
    service = make_service(FunctionDefinition("record", "fns.record", reserved_concurrency=limit))
    client = lambda_client(service.url)
    marks = tmp_path / "marks"
    marks.mkdir()

    for n in range(count):
        event = {"dir": str(marks), "seconds": 0.3, "n": n}
        response = client.invoke(
            FunctionName="record", InvocationType="Event", Payload=json.dumps(event)
        )
        assert response["StatusCode"] == 202
    assert service.stats()["record"]["queued"] >= count - limit
    assert service.wait_idle(timeout=20)

    spans = [json.loads(p.read_text()) for p in marks.glob("*.json")]
    assert len(spans) == count  # none lost
    edges = sorted(
        [(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda x: (x[0], x[1])
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak <= limit  # seen from the handlers' side
    stats = service.stats()["record"]
    assert stats["max_concurrency_observed"] == limit
    assert stats["invocations"] == count and stats["async_accepted"] == count
    assert stats["throttles"] == 0 and stats["queued"] == 0 and stats["instances"] == limit


def test_async_failure_is_retried_twice_then_sent_to_the_destination_queue(
    make_service: MakeService, aws: Emulator, tmp_path: Path
) -> None:
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="app-flaky-dlq")["QueueUrl"]
    service = make_service(
        FunctionDefinition("app-flaky", "fns.fail_counting", on_failure=queue_arn("app-flaky-dlq")),
        aws_env=aws.client_env(),
    )
    attempts = tmp_path / "attempts.txt"
    event = {"file": str(attempts)}

    request_id = service.invoke_async("app-flaky", event)
    assert service.wait_idle(timeout=20)

    assert attempts.read_text().split() == [request_id] * 3  # one try, two retries, one request id
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:app-flaky:$LATEST")
    assert record["requestPayload"] == event
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    stats = service.stats()["app-flaky"]
    assert (stats["invocations"], stats["errors"], stats["retries"]) == (3, 3, 2)
    assert (stats["dead_lettered"], stats["dropped"], stats["async_in_flight"]) == (1, 0, 0)


def test_async_timeout_without_a_destination_is_dropped_after_retries(
    make_service: MakeService,
) -> None:
    service = make_service(FunctionDefinition("slow", "fns.sleep", timeout=1))
    service.invoke_async("slow", {"seconds": 5})
    assert service.wait_idle(timeout=20)
    stats = service.stats()["slow"]
    assert (stats["invocations"], stats["timeouts"], stats["dropped"]) == (3, 3, 1)
    assert stats["dead_lettered"] == 0


def test_other_lambda_calls_pass_through_to_the_emulator(
    make_service: MakeService, aws: Emulator
) -> None:
    service = make_service(FunctionDefinition("echo", "fns.echo"), aws_env=aws.client_env())
    client = lambda_client(service.url)
    assert client.list_functions()["Functions"] == []  # moto's answer, through the service
    answer = client.invoke(FunctionName="echo", Payload=b'{"n": 1}')
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert json.loads(answer["Payload"].read())["event"] == {"n": 1}  # the local handler's


@pytest.mark.timing
def test_an_invoke_with_pass_through_on_answers_within_five_seconds(
    make_service: MakeService, aws: Emulator
) -> None:
    service = make_service(FunctionDefinition("echo", "fns.echo"), aws_env=aws.client_env())
    started = time.monotonic()
    assert lambda_client(service.url).invoke(FunctionName="echo")["StatusCode"] == 200
    assert time.monotonic() - started < 5


def test_async_retries_follow_the_functions_retry_setting(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("once", "fns.fail", max_retry_attempts=0))
    service.invoke_async("once", {})
    assert service.wait_idle(timeout=10)
    stats = service.stats()["once"]
    assert (stats["invocations"], stats["retries"], stats["dropped"]) == (1, 0, 1)
