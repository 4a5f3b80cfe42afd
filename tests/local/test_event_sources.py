"""SQS event source mappings, run locally as Lambda runs them: the rules as data (no AWS), then
the pollers against the real emulator (moto server, its mappings and queues), invoking a small
callable of the test's own that records what each invocation got."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from botocore.config import Config

from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.builder.local.lambda_service import event_sources as rules
from lambda_complex.builder.local.lambda_service.event_source_pollers import (
    EventSources,
    Invoked,
    read_mappings,
)
from lambda_complex.builder.local.lambda_service.event_sources import Gathering, SqsMapping

ARN = "arn:aws:sqs:eu-west-1:123456789012:app-work"
MAPPING = SqsMapping("u-1", "app-work", ARN, enabled=True)


# The rules.
def test_mapping_from_reads_what_list_event_source_mappings_answers() -> None:
    mapping = rules.mapping_from({
        "UUID": "u-1", "EventSourceArn": ARN, "State": "Enabled", "BatchSize": 4,
        "FunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:app-work",
        "MaximumBatchingWindowInSeconds": 2, "ScalingConfig": {"MaximumConcurrency": 3},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })
    assert mapping == SqsMapping("u-1", "app-work", ARN, True, 4, 2.0, 3, True)
    assert mapping is not None and mapping.queue_name == "app-work"
    disabled = rules.mapping_from({"UUID": "u", "EventSourceArn": ARN, "State": "Disabled",
                                   "FunctionArn": "f"})
    assert disabled is not None and not disabled.enabled and disabled.batch_size == 10
    stream = "arn:aws:kinesis:eu-west-1:123456789012:stream/s"
    assert rules.mapping_from({"UUID": "u", "EventSourceArn": stream, "FunctionArn": "f"}) is None


def test_problem_names_what_aws_refuses() -> None:
    assert rules.problem(MAPPING) is None
    low = rules.problem(replace(MAPPING, max_concurrency=1))
    assert low is not None and "MaximumConcurrency 1 is not between 2 and 1000" in low
    assert "between 2 and 1000" in (rules.problem(replace(MAPPING, max_concurrency=1001)) or "")
    big = rules.problem(replace(MAPPING, batch_size=11))
    assert big is not None and "MaximumBatchingWindowInSeconds of at least 1" in big
    assert rules.problem(replace(MAPPING, batch_size=11, window=1)) is None
    fifo = replace(MAPPING, queue_arn=ARN + ".fifo", batch_size=11, window=1)
    assert "between 1 and 10" in (rules.problem(fifo) or "")
    assert "300" in (rules.problem(replace(MAPPING, window=301)) or "")


def test_pollers_for_is_the_maximum_concurrency_and_none_when_disabled_or_invalid() -> None:
    assert rules.pollers_for(replace(MAPPING, max_concurrency=7)) == 7
    assert rules.pollers_for(MAPPING) == rules.STARTING_CONCURRENCY == 5
    assert rules.pollers_for(MAPPING, unset_limit=2) == 2
    assert rules.pollers_for(replace(MAPPING, enabled=False, max_concurrency=7)) == 0
    assert rules.pollers_for(replace(MAPPING, max_concurrency=1)) == 0


def test_next_receive_gathers_up_to_the_batch_size_within_the_window() -> None:
    empty = Gathering(0, 0, None)
    assert rules.next_receive(MAPPING, empty, 0.0) == 10
    assert rules.next_receive(replace(MAPPING, batch_size=3), empty, 0.0) == 3
    # No window: one receive is the batch.
    assert rules.next_receive(MAPPING, Gathering(2, 100, 0.0), 0.0) == 0
    windowed = replace(MAPPING, batch_size=25, window=2)
    assert rules.next_receive(windowed, Gathering(10, 100, 5.0), 6.0) == 10
    assert rules.next_receive(windowed, Gathering(20, 100, 5.0), 6.0) == 5
    assert rules.next_receive(windowed, Gathering(25, 100, 5.0), 6.0) == 0
    assert rules.next_receive(windowed, Gathering(3, 100, 5.0), 7.0) == 0  # window over
    assert rules.next_receive(windowed, Gathering(3, rules.MAX_PAYLOAD, 5.0), 5.5) == 0
    assert rules.poll_time(windowed, empty, 0.0, 1.0) == 1.0
    assert rules.poll_time(windowed, Gathering(3, 100, 5.0), 6.5, 20.0) == pytest.approx(0.5)
    assert rules.poll_time(windowed, Gathering(3, 100, 5.0), 9.0, 20.0) == 0.0


def test_fitting_stops_at_the_payload_limit() -> None:
    mib = 1024 * 1024
    assert rules.fitting([mib] * 3, 0) == 3
    assert rules.fitting([mib] * 3, 5 * mib) == 1
    assert rules.fitting([mib] * 3, 6 * mib) == 0
    assert rules.fitting([7 * mib], 0) == 1  # alone: its invocation refuses it


def test_sqs_event_has_the_shape_lambda_sends() -> None:
    message = {
        "MessageId": "m-1", "ReceiptHandle": "rh-1", "Body": "hello", "MD5OfBody": "5d41",
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
        "MessageAttributes": {
            "s": {"DataType": "String", "StringValue": "v"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
        "MD5OfMessageAttributes": "abcd",
    }
    event = rules.sqs_event([message], ARN)
    assert event == {"Records": [{
        "messageId": "m-1", "receiptHandle": "rh-1", "body": "hello",
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1"},
        "messageAttributes": {
            "s": {"stringValue": "v", "stringListValues": [], "binaryListValues": [],
                  "dataType": "String"},
            "b": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [],
                  "dataType": "Binary"},
        },
        "md5OfBody": "5d41", "md5OfMessageAttributes": "abcd", "eventSource": "aws:sqs",
        "eventSourceARN": ARN, "awsRegion": "eu-west-1",
    }]}
    json.dumps(event)  # JSON as it is


def test_settle_deletes_all_but_the_reported_failures() -> None:
    ids = ["a", "b", "c"]

    def deleted(response: Any, report: bool = True, succeeded: bool = True) -> set[str]:
        body = response if isinstance(response, bytes) else json.dumps(response).encode()
        return set(rules.settle(ids, succeeded, body, report).delete)

    assert deleted({"batchItemFailures": [{"itemIdentifier": "b"}]}) == {"a", "c"}
    for success in ({"batchItemFailures": []}, {"batchItemFailures": None}, {}, None, b""):
        assert deleted(success) == set(ids), success
    # Whole-batch failures: an invalid response or identifier.
    for invalid in (b"not json", [1], {"batchItemFailures": "b"},
                    {"batchItemFailures": [{"itemIdentifier": ""}]},
                    {"batchItemFailures": [{"itemIdentifier": None}]},
                    {"batchItemFailures": [{"id": "b"}]},
                    {"batchItemFailures": [{"itemIdentifier": "zz"}]}):
        assert deleted(invalid) == set(), invalid
    unknown = rules.settle(ids, True, b'{"batchItemFailures":[{"itemIdentifier":"zz"}]}', True)
    assert unknown.reason == "batchItemFailures[0].itemIdentifier 'zz' is not in the batch"
    # Without ReportBatchItemFailures the response is not read; a function error deletes nothing.
    assert deleted({"batchItemFailures": [{"itemIdentifier": "b"}]}, report=False) == set(ids)
    assert deleted({}, succeeded=False) == set()


# The pollers, against the emulator.
@dataclass
class Function:
    """The test's invoke callable: records each invocation's records; `respond` decides."""

    delay: float = 0.0
    respond: Callable[[list[dict[str, Any]]], Invoked] = lambda _: Invoked(200, b"null", None)
    calls: list[tuple[float, list[dict[str, Any]]]] = field(default_factory=list)
    running: int = 0
    max_running: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, function: str, payload: bytes) -> Invoked:
        records = json.loads(payload)["Records"]
        with self.lock:
            self.calls.append((time.monotonic(), records))
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            time.sleep(self.delay)
            return self.respond(records)
        finally:
            with self.lock:
                self.running -= 1

    def bodies(self) -> list[list[str]]:
        return [[r["body"] for r in records] for _, records in self.calls]


@dataclass
class Account:
    lam: Any
    sqs: Any
    url: str
    dlq_url: str
    arn: str

    def send(self, *bodies: str) -> None:
        for first in range(0, len(bodies), 10):
            self.sqs.send_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[first:first + 10])
            ])

    def depth(self, url: str | None = None) -> int:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url or self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        ])["Attributes"]
        return sum(int(v) for v in attrs.values())

    def map(self, **options: Any) -> str:
        uuid: str = self.lam.create_event_source_mapping(
            EventSourceArn=self.arn, FunctionName="app-work", **options
        )["UUID"]
        return uuid


@pytest.fixture
def account(aws: Emulator) -> Account:
    iam, lam, sqs = boto3.client("iam"), boto3.client("lambda"), boto3.client("sqs")
    role = iam.create_role(RoleName="app-work", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    lam.create_function(FunctionName="app-work", Runtime="python3.12", Role=role,
                        Handler="fns.work", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    dlq = sqs.create_queue(QueueName="app-work-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="app-work", Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
    })["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return Account(lam, sqs, url, dlq, arn)


@contextmanager
def polling(account: Account, function: Function, unset_limit: int = 5
            ) -> Iterator[EventSources]:
    sources = EventSources(account.lam, account.sqs, function, refresh=0.2, idle_wait=1,
                           unset_limit=unset_limit)
    with sources:
        yield sources


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_moto_keeps_the_mapping_and_no_longer_delivers_inside_send(account: Account) -> None:
    uuid = account.map(BatchSize=4, MaximumBatchingWindowInSeconds=1,
                       ScalingConfig={"MaximumConcurrency": 3},
                       FunctionResponseTypes=["ReportBatchItemFailures"])
    [mapping] = read_mappings(account.lam)
    assert mapping == SqsMapping(uuid, "app-work", account.arn, True, 4, 1.0, 3, True)
    account.send("x")  # moto would have invoked (and failed) the function here, taking it
    assert account.depth() == 1


def test_maximum_concurrency_is_never_exceeded_and_reached_under_backlog(
    account: Account,
) -> None:
    account.map(BatchSize=1, ScalingConfig={"MaximumConcurrency": 3})
    account.send(*[str(i) for i in range(12)])
    function = Function(delay=0.3)
    with polling(account, function) as sources:
        wait_for(lambda: len(function.calls) == 12 and account.depth() == 0)
        [stats] = sources.stats().values()
    assert function.max_running == 3
    assert stats["max_concurrency_observed"] == 3 and stats["pollers"] == 3
    assert sorted(b for [b] in function.bodies()) == sorted(str(i) for i in range(12))
    assert stats["deleted"] == 12


def test_batch_size_and_window(account: Account) -> None:
    # One poller (no MaximumConcurrency, a local limit of one): two would share the backlog.
    account.map(BatchSize=15, MaximumBatchingWindowInSeconds=1)
    # Longer than the window, or the first receive's messages come back within the batch.
    account.sqs.set_queue_attributes(QueueUrl=account.url, Attributes={"VisibilityTimeout": "5"})
    account.send(*[f"a{i}" for i in range(15)])
    function = Function()
    with polling(account, function, unset_limit=1):
        wait_for(lambda: len(function.calls) == 1)
        # Fifteen records in one invocation: two receives (10 at most each) within the window.
        assert sorted(function.bodies()[0]) == sorted(f"a{i}" for i in range(15))
        sent = time.monotonic()
        account.send("b0", "b1", "b2")
        wait_for(lambda: len(function.calls) == 2)
    at, records = function.calls[1]
    assert sorted(r["body"] for r in records) == ["b0", "b1", "b2"]
    assert at - sent >= 0.9  # a part batch waits for the end of the window
    assert account.depth() == 0


def test_without_a_window_a_batch_is_what_one_receive_returns(account: Account) -> None:
    account.map(BatchSize=4, ScalingConfig={"MaximumConcurrency": 2})
    account.send(*[str(i) for i in range(8)])
    function = Function(delay=0.2)
    with polling(account, function):
        wait_for(lambda: sum(len(b) for b in function.bodies()) == 8)
    assert all(1 <= len(b) <= 4 for b in function.bodies())
    assert len(function.calls) >= 2


def test_partial_batch_failure_keeps_only_the_failed_then_redrives_them(
    account: Account,
) -> None:
    account.map(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"],
                ScalingConfig={"MaximumConcurrency": 2})
    account.send("ok1", "bad", "ok2")

    def respond(records: list[dict[str, Any]]) -> Invoked:
        failed = [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "bad"]
        return Invoked(200, json.dumps({"batchItemFailures": failed}).encode(), None)

    function = Function(respond=respond)
    with polling(account, function):
        wait_for(lambda: account.depth(account.dlq_url) == 1)
    bodies = [b for batch in function.bodies() for b in batch]
    assert sorted(bodies) == ["bad", "bad", "ok1", "ok2"]  # maxReceiveCount 2, then the DLQ
    counts = [r["attributes"]["ApproximateReceiveCount"]
              for _, records in function.calls for r in records if r["body"] == "bad"]
    assert counts == ["1", "2"]
    assert account.depth() == 0
    dead = account.sqs.receive_message(QueueUrl=account.dlq_url)["Messages"]
    assert [m["Body"] for m in dead] == ["bad"]


def test_function_error_returns_the_whole_batch(account: Account) -> None:
    account.map(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"],
                ScalingConfig={"MaximumConcurrency": 2})
    account.send("a", "b", "c")
    failures = iter([Invoked(200, b'{"errorMessage":"boom"}', "Unhandled")])
    function = Function(respond=lambda _: next(failures, Invoked(200, b"{}", None)))
    with polling(account, function):
        wait_for(lambda: len(function.calls) >= 2 and account.depth() == 0)
    (_, first), (_, second) = function.calls[:2]
    assert sorted(r["messageId"] for r in first) == sorted(r["messageId"] for r in second)
    assert {r["attributes"]["ApproximateReceiveCount"] for r in second} == {"2"}


def test_an_unknown_item_identifier_fails_the_whole_batch(account: Account) -> None:
    account.map(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"],
                ScalingConfig={"MaximumConcurrency": 2})
    account.send("a", "b")
    answers = iter([Invoked(200, b'{"batchItemFailures":[{"itemIdentifier":"nope"}]}', None)])
    function = Function(respond=lambda _: next(answers, Invoked(200, b"null", None)))
    with polling(account, function):
        wait_for(lambda: len(function.calls) >= 2 and account.depth() == 0)
    assert sorted(function.bodies()[1]) == ["a", "b"]  # both came back


def test_a_disabled_mapping_stops_polling_and_resumes_when_enabled(account: Account) -> None:
    uuid = account.map(BatchSize=10, Enabled=False, ScalingConfig={"MaximumConcurrency": 2})
    account.send("first")
    function = Function()
    with polling(account, function) as sources:
        time.sleep(1.0)
        assert function.calls == [] and account.depth() == 1
        account.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
        wait_for(lambda: function.bodies() == [["first"]] and account.depth() == 0)
        account.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
        # A poller in its long poll when the mapping is disabled finishes that receive first.
        wait_for(lambda: sources.stats()[uuid]["pollers"] + sources.stats()[uuid]["stopping"]
                 == 0)
        account.send("second")
        time.sleep(1.0)
        assert function.bodies() == [["first"]] and account.depth() == 1


def test_an_invalid_mapping_does_not_poll_and_says_why(account: Account) -> None:
    # botocore refuses it client-side, AWS server-side; moto (a template, here an unchecked
    # client) stores it.
    unchecked = boto3.client("lambda", config=Config(parameter_validation=False))
    uuid = unchecked.create_event_source_mapping(
        EventSourceArn=account.arn, FunctionName="app-work", ScalingConfig={"MaximumConcurrency": 1}
    )["UUID"]
    account.send("x")
    function = Function()
    with polling(account, function) as sources:
        time.sleep(0.6)
    assert function.calls == [] and account.depth() == 1
    assert "MaximumConcurrency 1 is not between 2 and 1000" in sources.problems[uuid]
