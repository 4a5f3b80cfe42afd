"""The executor applies a plan's steps with real AWS calls (moto), re-reading what changed since
the plan was made: a queue that got a message after its drain is kept, a user's pause wins (over
the control value and the event source mappings), a native component's batches are waited for."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy import switchover
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.mappings import MappingState
from lambda_complex.builder.deploy.switchover_steps import (
    DeleteQueue,
    KeepQueue,
    Move,
    OldInvocations,
    Plan,
    Refuse,
    Removal,
    RemoveQueues,
    SetControl,
    SetMappings,
    WaitForOldInvocations,
)
from lambda_complex.builder.local.aws.emulator import Emulator
from tests.stacks.test_pause import mapped_function, mapping_state

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


def test_mappings_change_only_while_the_control_value_calls_for_it(
    aws: Emulator, example_app: App
) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    uuid = mapped_function(account, "render", enabled=False)
    seen = MappingState(uuid, "sitegen-render", "sitegen-render", "Disabled")
    gone = MappingState("0b5e7e4e-0000-4000-8000-000000000000", "sitegen-x", "sitegen-x",
                        "Disabled")
    resume = Plan("sitegen", True, (SetMappings(CONTROL, True, (seen, gone)),))
    account.put_parameter(CONTROL, "paused")  # `lcbuild pause` since the plan was made
    assert switchover.execute(example_app, account, resume).mappings == []
    assert mapping_state(uuid) == "Disabled"
    account.put_parameter(CONTROL, "running")
    report = switchover.execute(example_app, account, resume)
    assert [(m.uuid, m.before, m.after) for m in report.mappings] == [
        (uuid, "Disabled", "Enabled")]  # the one deleted since is skipped
    assert mapping_state(uuid) == "Enabled"


def test_the_wait_counts_a_native_components_batches_in_flight(
    aws: Emulator, example_app: App
) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    url = account.sqs.create_queue(QueueName="sitegen-render")["QueueUrl"]
    account.sqs.send_message(QueueUrl=url, MessageBody="in a batch")
    account.sqs.receive_message(QueueUrl=url, VisibilityTimeout=2)  # as the mapping's poller
    step = WaitForOldInvocations((), OldInvocations(30, 0), datetime.now(UTC),
                                 ("sitegen-render",))
    start = time.monotonic()
    switchover.wait_for_old_invocations(account, step, sleep=lambda s: time.sleep(0.2))
    assert 1.5 <= time.monotonic() - start < 10  # until the batch's message was visible again
