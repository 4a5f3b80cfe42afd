"""Synchronous Invoke through the real boto3 client, handlers run by the real awslambdaric."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition

from .conftest import MakeService, lambda_client


def _payload(response: Any) -> Any:
    return json.loads(response["Payload"].read())


def test_sync_invoke_returns_the_handler_result_and_reuses_the_warm_instance(
    make_service: MakeService, tmp_path: Path
) -> None:
    service = make_service(FunctionDefinition("echo", "fns.echo", timeout=5))
    client = lambda_client(service.url)

    first = client.invoke(FunctionName="echo", Payload=json.dumps({"a": 1}))
    second = client.invoke(FunctionName="echo", Payload=b'{"a": 2}', LogType="Tail")

    assert first["StatusCode"] == 200 and "FunctionError" not in first
    one, two = _payload(first), _payload(second)
    assert one["event"] == {"a": 1} and two["event"] == {"a": 2}
    assert one["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:echo"
    assert 0 < one["remaining_ms"] <= 5000
    assert one["pid"] == two["pid"]  # warm reuse: the same instance answered
    assert "END RequestId" in base64.b64decode(second["LogResult"]).decode()
    stats = service.stats()["echo"]
    assert stats["invocations"] == 2 and stats["cold_starts"] == 1 and stats["instances"] == 1
    logs = list((tmp_path / "logs" / "echo").glob("*.log"))
    assert len(logs) == 1 and logs[0].read_text().count("REPORT RequestId") == 2


# The bound is the claim: the service's own cost per warm invoke.
@pytest.mark.timing
def test_warm_invoke_overhead_is_small(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("echo", "fns.echo"))
    client = lambda_client(service.url)
    client.invoke(FunctionName="echo")
    start = time.perf_counter()
    for _ in range(50):
        client.invoke(FunctionName="echo")["Payload"].read()
    per_call = (time.perf_counter() - start) / 50
    assert per_call < 0.02, f"{per_call * 1000:.1f} ms per warm invoke, boto3 included"


def test_handler_error_is_an_unhandled_function_error(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("fail", "fns.fail"))
    response = lambda_client(service.url).invoke(FunctionName="fail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    body = _payload(response)
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom"
    assert service.stats()["fail"]["errors"] == 1
    assert service.stats()["fail"]["instances"] == 1  # an error does not cost the instance


def test_timeout_kills_the_instance_and_reports_task_timed_out(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("sleep", "fns.sleep", timeout=1))
    client = lambda_client(service.url)
    before = _payload(client.invoke(FunctionName="sleep", Payload=b'{"seconds": 0}'))

    started = time.monotonic()
    response = client.invoke(FunctionName="sleep", Payload=b'{"seconds": 10}')
    elapsed = time.monotonic() - started

    assert response["FunctionError"] == "Unhandled"
    body = _payload(response)
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert elapsed >= 1.0  # never before the function's timeout
    after = _payload(client.invoke(FunctionName="sleep", Payload=b'{"seconds": 0}'))
    assert after["pid"] != before["pid"]  # the killed instance was not reused
    stats = service.stats()["sleep"]
    assert stats["timeouts"] == 1 and stats["cold_starts"] == 2 and stats["instances"] == 1


@pytest.mark.timing
def test_a_timed_out_invocation_ends_within_two_seconds_of_its_timeout(
    make_service: MakeService,
) -> None:
    service = make_service(FunctionDefinition("sleep", "fns.sleep", timeout=1))
    started = time.monotonic()
    response = lambda_client(service.url).invoke(FunctionName="sleep", Payload=b'{"seconds": 10}')
    elapsed = time.monotonic() - started
    assert _payload(response)["errorType"] == "Sandbox.Timedout"
    assert 1.0 <= elapsed < 3.0, elapsed


def test_memory_limit_kills_the_instance(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("hog", "fns.hog", memory=128, timeout=10))
    response = lambda_client(service.url).invoke(FunctionName="hog", Payload=b'{"mb": 300}')
    assert response["FunctionError"] == "Unhandled"
    assert _payload(response)["errorType"] == "Runtime.OutOfMemory"
    assert service.stats()["hog"]["instances"] == 0


def test_import_error_is_reported_like_lambda(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("broken", "broken.handler"))
    response = lambda_client(service.url).invoke(FunctionName="broken")
    assert response["FunctionError"] == "Unhandled"
    body = _payload(response)
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert "cannot load me" in body["errorMessage"]


def test_sync_invoke_beyond_reserved_concurrency_is_throttled(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("sleep", "fns.sleep", reserved_concurrency=1))
    client = lambda_client(service.url)
    busy = threading.Thread(
        target=lambda: client.invoke(FunctionName="sleep", Payload=b'{"seconds": 1}')
    )
    busy.start()
    deadline = time.monotonic() + 5
    while service.stats()["sleep"]["concurrency"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)

    with pytest.raises(ClientError) as caught:
        lambda_client(service.url).invoke(FunctionName="sleep", Payload=b'{"seconds": 0}')
    busy.join()

    error: dict[str, Any] = dict(caught.value.response)
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    stats = service.stats()["sleep"]
    assert stats["throttles"] == 1 and stats["max_concurrency_observed"] == 1


def test_unknown_function_bad_payload_and_dry_run(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("echo", "fns.echo"))
    client = lambda_client(service.url)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nope")
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="echo", Payload=b"{not json")
    assert client.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:echo:$LATEST"
    assert client.invoke(FunctionName=arn)["StatusCode"] == 200
    assert service.stats()["echo"]["invocations"] == 1


def test_instances_get_a_lambda_environment(make_service: MakeService) -> None:
    service = make_service(
        FunctionDefinition("env", "fns.env", memory=256, environment={"MY_SETTING": "x"}),
        aws_env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
    )
    keys = [
        "MY_SETTING",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_LAMBDA",
        "LAMBDA_TASK_ROOT",
        "HOME",
    ]
    env = _payload(
        lambda_client(service.url).invoke(FunctionName="env", Payload=json.dumps({"keys": keys}))
    )
    assert env["MY_SETTING"] == "x"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["AWS_ENDPOINT_URL_LAMBDA"] == service.url
    assert env["LAMBDA_TASK_ROOT"]
    assert env["HOME"] is None  # not the developer's environment


def test_idle_instances_are_stopped(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition("echo", "fns.echo"), idle_timeout=0.3)
    lambda_client(service.url).invoke(FunctionName="echo")
    assert service.stats()["echo"]["instances"] == 1
    deadline = time.monotonic() + 5
    while service.stats()["echo"]["instances"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.stats()["echo"]["instances"] == 0


def test_a_crashed_or_killed_instance_ends_its_execution_and_is_replaced(
    make_service: MakeService,
) -> None:
    service = make_service(
        FunctionDefinition("crash", "fns.crash"),
        FunctionDefinition("sleep", "fns.sleep", timeout=30),
    )
    client = lambda_client(service.url)
    crashed = _payload(client.invoke(FunctionName="crash"))
    assert crashed["errorType"] == "Runtime.ExitError"
    assert crashed["errorMessage"].endswith("Runtime exited with error: exit status 3")

    answers: list[Any] = []
    busy = threading.Thread(
        target=lambda: answers.append(
            client.invoke(FunctionName="sleep", Payload=b'{"seconds": 20}')
        )
    )
    busy.start()
    deadline = time.monotonic() + 5
    while service.stats()["sleep"]["concurrency"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # let the instance take the invocation
    assert service.kill_running("sleep") == 1
    busy.join(timeout=5)
    killed = _payload(answers[0])
    assert killed["errorMessage"].endswith("Runtime exited with error: signal: kill")
    assert service.stats()["sleep"]["instances"] == 0
    assert "pid" in _payload(client.invoke(FunctionName="sleep", Payload=b"{}"))


def test_redefining_a_function_replaces_its_instances_and_keeps_its_counts(
    make_service: MakeService, code_dir: Path
) -> None:
    service = make_service(FunctionDefinition("f", "fns.echo"))
    client = lambda_client(service.url)
    before = _payload(client.invoke(FunctionName="f"))
    service.add_function(FunctionDefinition("f", "fns.sleep", code_path=code_dir))
    assert service.stats()["f"]["instances"] == 0
    after = _payload(client.invoke(FunctionName="f", Payload=b'{"seconds": 0}'))
    assert after.keys() == {"pid"} and after["pid"] != before["pid"]
    assert service.stats()["f"]["invocations"] == 2
    again = service.pool("f")
    assert again is not None
    service.add_function(again.fn)  # the same definition (a redeploy that changed nothing)
    assert service.stats()["f"]["instances"] == 1  # stays warm
    assert _payload(client.invoke(FunctionName="f", Payload=b'{"seconds": 0}')) == after
