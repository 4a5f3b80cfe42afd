"""Render tests: the example's templates, properties moto would drop, and cfn-lint on each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambda_complex.builder.app import load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, lint, render
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.cfn.render import UnknownStackError
from lambda_complex.runtime.config import NATIVE
from lambda_complex.runtime.delivery import SQS_MAX_BODY
from tests.app.conftest import valid, write_app_tree
from tests.stacks.conftest import fake_images

TAGGABLE = {"AWS::SQS::Queue", "AWS::Lambda::Function", "AWS::IAM::Role", "AWS::Logs::LogGroup"}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _by_name(template: dict[str, Any], kind: str, prop: str) -> dict[str, dict[str, Any]]:
    return {v["Properties"][prop]: v["Properties"] for v in _resources(template, kind).values()}


@pytest.mark.parametrize("stack", common.STACKS)
def test_every_template_passes_cfn_lint(example_app: App, example_images: Images,
                                        stack: str) -> None:
    body = render.to_json(render.render(example_app, stack, example_images))
    assert lint.findings(body, example_app.deployment.region) == []
    render.render_checked(example_app, stack, example_images)  # raises on any finding


def test_queues(example_app: App) -> None:
    t = render.render(example_app, common.QUEUES)
    queues = _by_name(t, "AWS::SQS::Queue", "QueueName")
    assert set(queues) == {
        "sitegen-ingest", "sitegen-ingest-dlq", "sitegen-ingest-inflight",
        "sitegen-render", "sitegen-render-dlq", "sitegen-render-inflight",
        "sitegen-search-index", "sitegen-search-index-dlq", "sitegen-search-index-inflight",
        "sitegen-toc-dlq", "sitegen-publish-dlq",
    }
    ingest = example_app.component("ingest")
    q = queues["sitegen-ingest"]
    assert q["VisibilityTimeout"] == ingest.visibility_timeout >= ingest.lambda_.timeout
    assert q["ReceiveMessageWaitTimeSeconds"] == ingest.queue_wait_time
    assert q["RedrivePolicy"]["maxReceiveCount"] == ingest.max_receive_count
    dlq_id = q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert t["Resources"][dlq_id]["Properties"]["QueueName"] == "sitegen-ingest-dlq"
    assert t["Resources"][dlq_id]["DeletionPolicy"] == "Retain"
    assert "IngestInputQueueUrl" in t["Outputs"]
    assert {q["MaximumMessageSize"] for q in queues.values()} == {SQS_MAX_BODY}


def test_functions_have_what_moto_drops(example_app: App, example_images: Images) -> None:
    t = render.render(example_app, common.FUNCTIONS, example_images)
    functions = _by_name(t, "AWS::Lambda::Function", "FunctionName")
    assert set(functions) == {f"sitegen-{c}" for c in example_app.component_names}
    for component in example_app.components:
        f = functions[f"sitegen-{component.name}"]
        assert f["PackageType"] == "Image"
        assert f["Code"]["ImageUri"] == example_images.components[component.name]
        assert "@sha256:" in f["Code"]["ImageUri"]
        assert f["Architectures"] == [component.lambda_.architecture.value]
        assert f["MemorySize"] == component.lambda_.memory
        assert f["Timeout"] == component.lambda_.timeout
        assert f["ReservedConcurrentExecutions"] == component.max_concurrency
        assert f["LoggingConfig"]["LogFormat"] == "JSON"
        if component.lambda_.environment:
            assert f["Environment"]["Variables"] == component.lambda_.environment
    assert functions["sitegen-publish"]["Environment"]["Variables"] == {
        "SITE_BUCKET": "sitegen-example-site"}
    configs = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
               for c in _resources(t, "AWS::Lambda::EventInvokeConfig").values()}
    assert len(configs) == len(example_app.components)
    function_ids = {v["Properties"]["FunctionName"]: k
                    for k, v in _resources(t, "AWS::Lambda::Function").items()}
    for component in example_app.components:
        p = configs[function_ids[f"sitegen-{component.name}"]]
        if component.has_queue:
            # a nudge: never retried, never recorded (the DLQ holds only input messages)
            assert p["MaximumRetryAttempts"] == 0 and "DestinationConfig" not in p
        else:
            assert p["MaximumRetryAttempts"] == 2
            destination = p["DestinationConfig"]["OnFailure"]["Destination"]["Fn::Sub"]
            assert destination.endswith(f"sitegen-{component.name}-dlq")
    for component in example_app.components:  # no routing cycle in the example
        assert functions[f"sitegen-{component.name}"]["RecursiveLoop"] == "Terminate"
    groups = _by_name(t, "AWS::Logs::LogGroup", "LogGroupName")
    assert groups["/aws/lambda/sitegen-render"]["RetentionInDays"] == common.LOG_RETENTION_DAYS


def test_coordinator_stack(example_app: App, example_images: Images) -> None:
    t = render.render(example_app, common.COORDINATOR, example_images)
    functions = _by_name(t, "AWS::Lambda::Function", "FunctionName")
    assert functions["sitegen-coordinator"]["Code"]["ImageUri"] == example_images.coordinator
    invoker = functions["sitegen-invoker"]
    assert invoker["Code"]["ImageUri"] == example_images.coordinator
    assert invoker["ImageConfig"]["Command"] == ["lambda_complex.runtime.invoker.handler"]
    (rule,) = _resources(t, "AWS::Events::Rule").values()
    assert rule["Properties"]["Name"] == "sitegen-coordinator-schedule"
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    assert json.loads(rule["Properties"]["Targets"][0]["Input"]) == {"source": "schedule"}
    (permission,) = _resources(t, "AWS::Lambda::Permission").values()
    assert permission["Properties"]["Principal"] == "events.amazonaws.com"
    (parameter,) = _resources(t, "AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Name"] == "/lambda-complex/sitegen/control"
    assert parameter["Properties"]["Value"] == "running"
    for config in _resources(t, "AWS::Lambda::EventInvokeConfig").values():
        assert config["Properties"]["MaximumRetryAttempts"] == 0  # no forked chains
    assert functions["sitegen-coordinator"]["RecursiveLoop"] == "Allow"
    assert invoker["RecursiveLoop"] == "Allow"


@pytest.mark.parametrize("stack", common.STACKS)
def test_tags_on_every_taggable_resource(example_app: App, example_images: Images,
                                         stack: str) -> None:
    t = render.render(example_app, stack, example_images)
    for logical_id, resource in t["Resources"].items():
        if resource["Type"] in TAGGABLE:
            tags = {x["Key"]: x["Value"] for x in resource["Properties"]["Tags"]}
            assert tags["team"] == "web" and tags["app"] == "sitegen", logical_id


def test_retiring_queues_are_kept_until_switched(example_app: App) -> None:
    """A deployed queue no longer asked for stays in the template (CloudFormation must not delete
    it with its messages); the switchover hook drains and removes it."""
    deployed = render.render(example_app, common.QUEUES)
    old = {"Type": "AWS::SQS::Queue", "Metadata": {common.METADATA_KEY: {
        "component": "render", "kind": "input", "identity": "Render:input",
        "name": "sitegen-render-old"}}, "Properties": {"QueueName": "sitegen-render-old"}}
    deployed["Resources"]["RenderInputQueueDEADBEEF"] = old
    fresh = render.render(example_app, common.QUEUES, deployed=deployed)
    assert fresh["Resources"]["RenderInputQueueDEADBEEF"] == old
    assert len(fresh["Resources"]) == len(deployed["Resources"])


def test_a_template_failing_cfn_lint_is_refused_clearly(example_app: App,
                                                        example_images: Images) -> None:
    t = render.render(example_app, common.FUNCTIONS, example_images)
    fn = next(iter(_resources(t, "AWS::Lambda::Function").values()))
    fn["Properties"]["Timeout"] = 5000
    with pytest.raises(lint.TemplateLintError) as e:
        lint.check(t, "eu-west-1", "stack 'sitegen-functions'")
    assert "stack 'sitegen-functions'" in str(e.value)
    message = str(e.value)
    assert "E3717 Resources/IngestFunction" in message and "/Properties/Timeout" in message


def test_unknown_stack(example_app: App) -> None:
    with pytest.raises(UnknownStackError, match="queues, functions, coordinator"):
        render.render(example_app, "database")


def _native_app(tmp_path: Path) -> App:
    """The shop app with `orders` started by its event source mapping (a batching window)."""
    write_app_tree(tmp_path)
    data = valid()
    data["components"][0].update(dispatch=NATIVE, batching_window=4, max_concurrency=3)
    (tmp_path / "lambda-complex.yaml").write_text(yaml.safe_dump(data))
    return load.load(tmp_path / "lambda-complex.yaml")


def test_a_native_component_has_an_event_source_mapping_and_no_lease_queue(
        tmp_path: Path) -> None:
    app = _native_app(tmp_path)
    images = fake_images(app)
    t = json.loads(render.render_checked(app, common.FUNCTIONS, images))  # cfn-lint passes
    (mapping,) = (r["Properties"] for r in _resources(t, "AWS::Lambda::EventSourceMapping")
                  .values())
    function_ids = {v["Properties"]["FunctionName"]: k
                    for k, v in _resources(t, "AWS::Lambda::Function").items()}
    assert mapping == {
        "EventSourceArn": {"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:"
                                      "${AWS::AccountId}:shop-orders"},
        "FunctionName": {"Ref": function_ids["shop-orders"]},
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 4,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 3},
        "Enabled": True,
        "Tags": mapping["Tags"],
    }
    assert {x["Key"]: x["Value"] for x in mapping["Tags"]}["team"] == "web"
    functions = _by_name(t, "AWS::Lambda::Function", "FunctionName")
    # AWS advises reserved concurrency at least the mapping's maximum concurrency.
    assert functions["shop-orders"]["ReservedConcurrentExecutions"] == 3
    queues = _by_name(json.loads(render.render_checked(app, common.QUEUES)), "AWS::SQS::Queue",
                      "QueueName")
    assert "shop-orders" in queues and "shop-orders-inflight" not in queues
    assert "shop-bill-inflight" in queues  # a pushed component keeps its lease queue
    coordinator = render.render_checked(app, common.COORDINATOR, images)
    assert "shop-orders" not in coordinator  # neither watched, leased nor started


def test_only_native_components_have_a_mapping(example_app: App,
                                               example_images: Images) -> None:
    t = render.render(example_app, common.FUNCTIONS, example_images)
    assert _resources(t, "AWS::Lambda::EventSourceMapping") == {}
