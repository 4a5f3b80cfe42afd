"""The minimum `lambda.timeout` of a message component, checked against the real runtime loop
on the emulator's SQS: at the minimum an invocation takes a message and calls the handler; one
second less and it takes nothing (which is why the loader refuses it)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from lambda_complex.builder.app import compile as app_compile
from lambda_complex.builder.app import load
from lambda_complex.builder.errors import DefinitionError
from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.runtime import consume, names, protocol, resources, wrapper
from lambda_complex.runtime.config import RuntimeConfig

DEFINITION = """
name: tmin
components:
  - name: work
    type: event_from_message
    queue_wait_time: 0
    lambda: {path: code, handler: work.handler, timeout: TIMEOUT}
"""


class Context:
    """Lambda's context, as the invocation sees it after its own start-up allowance."""

    def __init__(self, timeout_s: int) -> None:
        remaining_ms = timeout_s * 1000 - consume.FIRST_RECEIVE_ALLOWANCE_MS
        self.deadline = time.monotonic() + remaining_ms / 1000
        self.aws_request_id = "req-1"
        self.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:tmin-work"
        self.function_name = "tmin-work"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@pytest.fixture
def task_root(aws: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "work.py").write_text("def handler(event, context):\n    return None\n")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path / "code"))
    monkeypatch.delenv("AWS_ENDPOINT_URL_LAMBDA", raising=False)
    wrapper.reset()
    yield tmp_path
    wrapper.reset()
    resources.reset()


def _invoke(root: Path, config: RuntimeConfig, timeout_s: int,
            monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    """One invocation with one message queued: (handler calls, messages left in the queue)."""
    sqs = boto3.client("sqs")
    for queue in (names.dead_letter_queue_name("tmin", "work"),
                  names.inflight_queue_name("tmin", "work")):
        sqs.create_queue(QueueName=queue)
    url = sqs.create_queue(QueueName=names.queue_name("tmin", "work"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=protocol.new_envelope({"n": 1}).to_json())
    path = root / f"config-{timeout_s}.json"
    path.write_text(config.to_json())
    monkeypatch.setenv("LAMBDA_COMPLEX_CONFIG", str(path))
    wrapper.reset()
    summary = wrapper.handler(protocol.Nudge(None).to_dict(), Context(timeout_s))
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return summary["handled"], int(left["Attributes"]["ApproximateNumberOfMessages"])


def test_minimum_timeout_takes_one_message_and_one_less_takes_none(
    task_root: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    minimum = consume.min_timeout_s(0)
    definition = task_root / "lambda-complex.yaml"
    definition.write_text(DEFINITION.replace("TIMEOUT", str(minimum - 1)))
    with pytest.raises(DefinitionError, match=f"needs at least {minimum} s"):
        load.load(definition)
    definition.write_text(DEFINITION.replace("TIMEOUT", str(minimum)))
    config = app_compile.for_component(load.load(definition), "work")

    assert _invoke(task_root, config, minimum, monkeypatch) == (1, 0)

    shorter = dataclasses.replace(config, components={
        "work": dataclasses.replace(config.own, timeout=minimum - 1)})
    assert _invoke(task_root, shorter, minimum - 1, monkeypatch) == (0, 1)
