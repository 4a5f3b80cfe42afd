"""The executor applies a plan's steps with real AWS calls (moto), re-reading what changed since
the plan was made: a queue that got a message after its drain is kept, a user's pause wins."""

from __future__ import annotations

import json

import pytest

from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy import switchover
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.switchover_steps import (
    DeleteQueue,
    KeepQueue,
    Move,
    Plan,
    Refuse,
    Removal,
    RemoveQueues,
    SetControl,
)
from lambda_complex.builder.local.aws.emulator import Emulator

CONTROL = "/lambda-complex/sitegen/control"


def queue(name: str) -> dict[str, object]:
    return {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": name}}


def control(account: Aws) -> str | None:
    found = account.get_parameter(CONTROL)
    return found.value if found else None


def test_removal_keeps_a_queue_that_got_a_message_after_its_drain(
    aws: Emulator, example_app: App
) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    template = {"Resources": {"Old": queue("sitegen-old"), "Late": queue("sitegen-late"),
                              "Lease": queue("sitegen-old-inflight"),
                              "New": queue("sitegen-new")}}
    account.cfn.create_stack(StackName="sitegen-queues", TemplateBody=json.dumps(template))
    late = account.queue_url("sitegen-late")
    lease = account.queue_url("sitegen-old-inflight")
    assert late and lease
    account.sqs.send_message(QueueUrl=late, MessageBody="arrived after the drain")
    account.sqs.send_message(QueueUrl=lease, MessageBody="token")
    step = RemoveQueues("sitegen-queues", (Removal("sitegen-old", "Old", "drained"),
                                           Removal("sitegen-late", "Late", "drained"),
                                           Removal("sitegen-old-inflight", "Lease", "always")))
    report = switchover.execute(example_app, account, Plan("sitegen", True, (step,)))
    assert report.removed == ["sitegen-old", "sitegen-old-inflight"]
    assert report.kept == ["sitegen-late"]
    deployed = account.deployed_template("sitegen-queues")
    assert deployed is not None and set(deployed["Resources"]) == {"Late", "New"}
    assert account.queue_url("sitegen-old") is None
    assert account.queue_url("sitegen-old-inflight") is None
    assert account.counts(late).visible == 1


def test_control_changes_only_from_the_value_planned(aws: Emulator, example_app: App) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    account.put_parameter(CONTROL, "paused")  # `lcbuild pause` since the plan was made
    pause = Plan("sitegen", True, (SetControl(CONTROL, "running", "deploying"),))
    switchover.execute(example_app, account, pause)
    assert control(account) == "paused"
    account.put_parameter(CONTROL, "running")
    switchover.execute(example_app, account, pause)
    assert control(account) == "deploying"


def test_a_refused_plan_changes_nothing(aws: Emulator, example_app: App) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    account.put_parameter(CONTROL, "running")
    source = account.sqs.create_queue(QueueName="sitegen-toc")["QueueUrl"]
    account.sqs.create_queue(QueueName="sitegen-toc-dlq")
    account.sqs.send_message(QueueUrl=source, MessageBody="x")
    plan = Plan("sitegen", True, (Refuse("component 'toc' is removed ..."),
                                  SetControl(CONTROL, "running", "paused"),
                                  Move("sitegen-toc", "sitegen-toc-dlq", 1, "component removed")))
    with pytest.raises(switchover.SwitchoverRefused, match="component 'toc' is removed"):
        switchover.execute(example_app, account, plan)
    assert control(account) == "running"
    assert account.counts(source).visible == 1


def test_moves_then_deletes_what_a_delete_left_empty(aws: Emulator, example_app: App) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    source = account.sqs.create_queue(QueueName="sitegen-toc")["QueueUrl"]
    dlq = account.sqs.create_queue(QueueName="sitegen-toc-dlq")["QueueUrl"]
    account.sqs.create_queue(QueueName="sitegen-publish-dlq")
    for i in range(12):  # more than one batch
        account.sqs.send_message(QueueUrl=source, MessageBody=str(i))
    moved = switchover.execute(example_app, account, Plan("sitegen", True, (
        Move("sitegen-toc", "sitegen-toc-dlq", 12, "application deleted"),)))
    assert moved.moved == {"sitegen-toc": 12}
    assert account.counts(source).total == 0 and account.counts(dlq).visible == 12
    kept = switchover.after_delete(example_app, account, ["sitegen-toc-dlq",
                                                          "sitegen-publish-dlq", "sitegen-gone"])
    assert kept == ["sitegen-toc-dlq"]
    assert account.queue_url("sitegen-publish-dlq") is None and account.queue_url(
        "sitegen-toc-dlq") == dlq
    report = switchover.execute(example_app, account, Plan("sitegen", False, (
        DeleteQueue("sitegen-gone"), KeepQueue("sitegen-toc-dlq", 12))))
    assert report.removed == [] and report.kept == ["sitegen-toc-dlq"]
