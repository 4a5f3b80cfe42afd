"""The last drain of a retiring queue waits for the old version's invocations, which may still
send to the old queue names once the new functions are in place (real SQS semantics, moto)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from lambda_complex.builder.app import load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy import switchover, switchover_plan
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.switchover_steps import (
    OldInvocations,
    WaitForOldInvocations,
    WaitForQueueNames,
)
from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.runtime.inflight import LEASE_MARGIN_S

from .conftest import ROOT


def test_how_long_old_invocations_may_run(example_app: App, tmp_path: Path) -> None:
    # sitegen: its message components count themselves (timeout 30 each); its invocation
    # components route only to invocation components, so nothing uncounted can send to a queue.
    assert switchover_plan.old_invocations(example_app) == OldInvocations(
        30 + LEASE_MARGIN_S, 0)
    data = yaml.safe_load((ROOT / "lambda-complex.yaml").read_text())
    for c in data["components"]:
        c["lambda"]["path"] = str(ROOT / c["lambda"]["path"])
        if c["name"] == "publish":
            c["routing"] = "search-index"
            c["lambda"]["timeout"] = 45
    path = tmp_path / "lambda-complex.yaml"
    path.write_text(yaml.safe_dump(data))
    routed = load.load(path)
    assert switchover_plan.old_invocations(routed) == OldInvocations(
        30 + LEASE_MARGIN_S, 45 + LEASE_MARGIN_S)


def test_last_drain_catches_what_a_running_old_invocation_sends(
    aws: Emulator, example_app: App
) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    sqs = account.sqs
    old = sqs.create_queue(QueueName="sitegen-render")["QueueUrl"]
    new = sqs.create_queue(QueueName="sitegen-Render")["QueueUrl"]
    leases = sqs.create_queue(QueueName="sitegen-ingest-inflight")["QueueUrl"]
    sqs.send_message(QueueUrl=leases, MessageBody="lease")
    lease = sqs.receive_message(QueueUrl=leases, VisibilityTimeout=60)["Messages"][0]

    def old_ingest() -> None:  # still running the old code: one more result, then it ends
        time.sleep(1.5)
        sqs.send_message(QueueUrl=old, MessageBody="late")
        sqs.change_message_visibility(
            QueueUrl=leases, ReceiptHandle=lease["ReceiptHandle"], VisibilityTimeout=0
        )

    running = threading.Thread(target=old_ingest)
    running.start()
    lease_queues = ("sitegen-ingest-inflight", "sitegen-gone-inflight")  # one already deleted
    step = WaitForOldInvocations(lease_queues, switchover_plan.old_invocations(example_app),
                                 datetime.now(UTC))
    switchover.wait_for_old_invocations(account, step)
    running.join()
    assert switchover.drain(account, old, new) == 1
    assert sqs.receive_message(QueueUrl=new)["Messages"][0]["Body"] == "late"


def test_wait_is_bounded_by_the_longest_timeout(aws: Emulator, example_app: App) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    leases = account.sqs.create_queue(QueueName="sitegen-ingest-inflight")["QueueUrl"]
    account.sqs.send_message(QueueUrl=leases, MessageBody="lease")
    account.sqs.receive_message(QueueUrl=leases, VisibilityTimeout=600)  # never handed back
    # The new functions have been in place for (almost) the longest timeout + margin already.
    since = datetime.now(UTC) - timedelta(seconds=30 + LEASE_MARGIN_S - 1)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    step = WaitForOldInvocations(("sitegen-ingest-inflight",),
                                 switchover_plan.old_invocations(example_app), since)
    switchover.wait_for_old_invocations(account, step, sleep=sleep)
    assert 1 <= len(slept) <= 2


def test_queue_name_cooldown_after_a_delete() -> None:
    deleted = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    full = switchover_plan.QUEUE_NAME_COOLDOWN_S + switchover_plan.DELETE_HOOK_SLACK_S
    assert switchover_plan.queue_name_cooldown_s(None, deleted) == 0
    assert switchover_plan.queue_name_cooldown_s(deleted, deleted) == full
    assert switchover_plan.queue_name_cooldown_s(
        deleted, deleted + timedelta(seconds=30)) == full - 30
    assert switchover_plan.queue_name_cooldown_s(deleted, deleted + timedelta(minutes=5)) == 0


def test_a_launch_after_a_delete_reads_when_the_queues_went(aws: Emulator,
                                                            example_app: App) -> None:
    """moto's ListStacks gives no DeletionTime, so its answer (deleted, when unknown) plans no
    wait; the read is made only when the queues stack is to be created."""
    client = Aws(aws.region)
    template = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}'
    client.cfn.create_stack(StackName="sitegen-queues", TemplateBody=template)
    client.cfn.delete_stack(StackName="sitegen-queues")
    assert switchover.queues_stack_deleted_at(example_app, client) is None
    inputs = switchover.read_inputs(example_app, client, force_remove=False)
    assert inputs.deployed is None and inputs.queues_deleted_at is None
    assert not any(isinstance(s, WaitForQueueNames)
                   for s in switchover_plan.plan_begin(inputs).steps)
