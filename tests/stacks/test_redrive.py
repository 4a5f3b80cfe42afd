"""What `lcbuild redrive` invokes again for an invocation component's dead letter (pure), and what
it leaves in a message component's (against the emulator); the command itself runs against a
local run in tests/local/test_local_run.py."""

from __future__ import annotations

import json

import pytest

from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.redrive import invocation_payload, is_lambda_record, redrive
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local.aws.emulator import Emulator


def test_the_event_of_a_lambda_on_failure_record() -> None:
    record = {
        "version": "1.0",
        "requestContext": {"requestId": "r1", "condition": "RetriesExhausted"},
        "requestPayload": {"trace_id": "t", "hops": 1, "data": {"to": "ops"}},
        "responsePayload": {"errorMessage": "notify is broken"},
    }
    assert json.loads(invocation_payload(json.dumps(record))) == record["requestPayload"]


def test_the_wrappers_own_dead_letter_is_the_event_itself() -> None:
    assert invocation_payload('{"requestPayload": 1}') == b'{"requestPayload": 1}'
    assert invocation_payload("not json at all") == b"not json at all"


def test_lambda_records_in_a_message_components_dlq_are_never_redriven(
        aws: Emulator, example_app: App) -> None:
    """Nudges record no failures now, but a record from an older deployment may be there."""
    client = Aws(aws.region)
    dlq = client.sqs.create_queue(QueueName="sitegen-render-dlq")["QueueUrl"]
    source = client.sqs.create_queue(QueueName="sitegen-render")["QueueUrl"]
    record = {"version": "1.0", "requestContext": {"condition": "RetriesExhausted"},
              "requestPayload": {"lease": "x"}, "responsePayload": None}
    client.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(record))
    for i in range(12):
        client.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"data": i}))
    result = redrive(example_app, client, "render")
    assert (result.moved, result.skipped) == (12, 1)
    assert result.left == 1  # the record stays for a human
    bodies = []
    while True:
        got = client.sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)
        if not got.get("Messages"):
            break
        bodies += [json.loads(m["Body"]) for m in got["Messages"]]
        client.delete(source, [m["ReceiptHandle"] for m in got["Messages"]])
    assert sorted(b["data"] for b in bodies) == list(range(12))
    assert all(not is_lambda_record(json.dumps(b)) for b in bodies)


def test_is_lambda_record() -> None:
    assert is_lambda_record(json.dumps({"requestContext": {}, "requestPayload": 1}))
    assert not is_lambda_record(json.dumps({"requestPayload": 1}))
    assert not is_lambda_record("[1")


def test_a_removed_components_dead_letters_are_reachable_by_queue(
        aws: Emulator, example_app: App) -> None:
    """A forced removal moves the removed component's messages into its dead-letter queue, which
    is kept while not empty: `lcbuild redrive COMPONENT --queue NAME` takes them to a component
    that exists."""
    client = Aws(aws.region)
    retained = client.sqs.create_queue(QueueName="sitegen-s3-dlq")["QueueUrl"]
    target = client.sqs.create_queue(QueueName="sitegen-render")["QueueUrl"]
    client.sqs.create_queue(QueueName="sitegen-render-dlq")
    for i in range(3):
        client.sqs.send_message(QueueUrl=retained, MessageBody=json.dumps({"data": i}))
    result = redrive(example_app, client, "render", queue="sitegen-s3-dlq")
    assert (result.source, result.target, result.moved, result.left) == (
        "sitegen-s3-dlq", "sitegen-render", 3, 0)
    assert client.counts(target).visible == 3
    with pytest.raises(UserError, match="not a queue of sitegen"):
        redrive(example_app, client, "render", queue="other-app-queue")
