"""Contract: every AWS call the runtime makes is allowed by the role the rendered template gives the
function that makes it. moto checks no IAM, so this is what stands between a green local run and
AccessDenied on AWS.

The calls come from an AST scan of the runtime (tests/stacks/runtime_calls.py); each boto3
operation maps to its IAM action per the Service Authorization Reference, each call site to the
resource it touches, and each function kind runs what its handler reaches.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambda_complex.builder.app import load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import coordinator, functions
from lambda_complex.runtime import config, names
from tests.app.conftest import valid, write_app_tree
from tests.stacks import runtime_calls
from tests.stacks.conftest import fake_images

REGION, ACCOUNT = "eu-west-1", "123456789012"

# boto3 operation -> IAM action.
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html
# Batch calls have no action of their own: "setting permissions for SendMessage, DeleteMessage,
# or ChangeMessageVisibility sets permissions for the corresponding batch versions"
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html).
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
# (GetParameters is its own action, not covered by GetParameter);
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html
# (Invoke is authorised as lambda:InvokeFunction).
IAM_ACTIONS = {
    ("sqs", "receive_message"): "sqs:ReceiveMessage",
    ("sqs", "delete_message"): "sqs:DeleteMessage",
    ("sqs", "delete_message_batch"): "sqs:DeleteMessage",
    ("sqs", "change_message_visibility"): "sqs:ChangeMessageVisibility",
    ("sqs", "change_message_visibility_batch"): "sqs:ChangeMessageVisibility",
    ("sqs", "send_message"): "sqs:SendMessage",
    ("sqs", "send_message_batch"): "sqs:SendMessage",
    ("sqs", "get_queue_attributes"): "sqs:GetQueueAttributes",
    ("sqs", "get_queue_url"): "sqs:GetQueueUrl",
    ("lambda", "invoke"): "lambda:InvokeFunction",
    ("ssm", "get_parameter"): "ssm:GetParameter",
    ("ssm", "get_parameters"): "ssm:GetParameters",
    ("ssm", "put_parameter"): "ssm:PutParameter",
}

# What each call site touches, as seen from the function running it.
INPUT_QUEUES = "input queues"  # a component: its own; coordinator: every coordinated one's
LEASE_QUEUES = "lease queues"  # a component: its own; coordinator and invoker: every one
DEAD_LETTER_QUEUE = "own dead-letter queue"
# Results go to the queues it routes to; a message not started on its last allowed receive goes
# back to its own queue (`delivery.send_again`), by the same send.
SEND_QUEUES = "queues it routes to, and its own"
ROUTE_FUNCTIONS = "functions it routes to"
STARTED_FUNCTIONS = "functions it starts"  # coordinator, invoker: message components, invoker
COORDINATOR_FUNCTION = "the coordinator"
APP_PARAMETERS = "the app's control and chain parameters"
CONTROL_PARAMETER = "the control parameter"
# Push dispatch: a component starts the message components it feeds (runtime `push`).
PUSHED_LEASE_QUEUES = "lease queues of the components it pushes to"

CALL_SITES = {
    ("consume", "run"): INPUT_QUEUES,
    ("consume", "_receive"): INPUT_QUEUES,
    ("consume", "_delete"): INPUT_QUEUES,
    ("consume", "_set_visibility"): INPUT_QUEUES,
    ("batch", "delete"): INPUT_QUEUES,
    ("batch", "set_visibility"): INPUT_QUEUES,
    ("batch", "change_visibility"): INPUT_QUEUES,  # backoff, hand back, hold back
    ("records", "RecordBatch"): INPUT_QUEUES,  # its own queue's URL, for visibility changes
    ("delivery", "_send_chunk"): SEND_QUEUES,
    ("delivery", "_invoke"): ROUTE_FUNCTIONS,
    ("delivery", "dead_letter"): DEAD_LETTER_QUEUE,
    ("inflight", "_url"): LEASE_QUEUES,
    ("inflight", "_receive"): LEASE_QUEUES,
    ("inflight", "take"): LEASE_QUEUES,
    ("inflight", "_top_up"): LEASE_QUEUES,
    ("inflight", "hand_back"): LEASE_QUEUES,
    ("inflight", "release"): LEASE_QUEUES,
    ("inflight", "count"): LEASE_QUEUES,
    ("inflight", "_sizes"): LEASE_QUEUES,
    ("inflight", "take_free"): PUSHED_LEASE_QUEUES,
    ("push", "_paused"): CONTROL_PARAMETER,
    ("coordinator", "_queue_counts"): INPUT_QUEUES,
    ("coordinator", "read_parameters"): APP_PARAMETERS,
    ("coordinator", "write_heartbeat"): APP_PARAMETERS,
    ("coordinator", "start_chain"): COORDINATOR_FUNCTION,
    ("invoker", "invoke_async"): STARTED_FUNCTIONS,
}


# A native component's event source mapping polls its queue with the function's execution role:
# "ReceiveMessage, DeleteMessage, GetQueueAttributes"
# (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, execution role permissions), and
# ChangeMessageVisibility where it hands back what a batch cannot hold (the local pollers do).
EVENT_SOURCE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                        "sqs:ChangeMessageVisibility")


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _queues(app: App, name_of: Any, components: list[str]) -> list[str]:
    return [_arn("sqs", name_of(app.name, c)) for c in components]


def resources_touched(app: App, kind: str, runner: str, what: str) -> list[str]:
    """ARNs a call site of kind `what` touches when run by `runner` (a component name, or
    coordinator / invoker: kind says which)."""
    # What the coordinator and invoker start: every message component but the native ones.
    message = [c.name for c in app.components if c.has_queue and not c.native]
    if kind == "component":
        component = app.component(runner)
        mine = [runner] if component.has_queue else []
        leased = [runner] if component.has_queue and not component.native else []
        targets = component.routing.possible_targets(app.component_names)
        by_queue = {t for t in targets if app.component(t).has_queue}
        pushed = sorted(t for t in by_queue if app.component(t).dispatch == config.PUSH)
        return {
            INPUT_QUEUES: _queues(app, names.queue_name, mine),
            LEASE_QUEUES: _queues(app, names.inflight_queue_name, leased + pushed),
            PUSHED_LEASE_QUEUES: _queues(app, names.inflight_queue_name, pushed),
            STARTED_FUNCTIONS: [_arn("lambda", "function:" + names.function_name(app.name, t))
                                for t in pushed],
            CONTROL_PARAMETER: ([_arn("ssm", "parameter" + names.control_parameter_name(app.name))]
                                if pushed else []),
            DEAD_LETTER_QUEUE: _queues(app, names.dead_letter_queue_name, [runner]),
            SEND_QUEUES: _queues(app, names.queue_name, sorted(by_queue | set(mine))),
            ROUTE_FUNCTIONS: [_arn("lambda", "function:" + names.function_name(app.name, t))
                              for t in targets if t not in by_queue],
        }[what]
    parameters = [names.control_parameter_name(app.name)] + [
        names.chain_parameter_name(app.name, i) for i in range(app.coordinator.concurrency)]
    return {
        INPUT_QUEUES: _queues(app, names.queue_name, message),
        LEASE_QUEUES: _queues(app, names.inflight_queue_name, message),
        STARTED_FUNCTIONS: [_arn("lambda", "function:" + names.function_name(app.name, c))
                            for c in [*message, names.INVOKER]],
        COORDINATOR_FUNCTION: [_arn("lambda", "function:"
                                    + names.function_name(app.name, names.COORDINATOR))],
        APP_PARAMETERS: [_arn("ssm", "parameter" + p) for p in parameters],
    }[what]


def _resolve(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            return (value["Fn::Sub"].replace("${AWS::Partition}", "aws")
                    .replace("${AWS::Region}", REGION).replace("${AWS::AccountId}", ACCOUNT))
        return {k: _resolve(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def role_statements(templates: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Function name -> the Allow statements of its execution role, from rendered templates."""
    found: dict[str, list[dict[str, Any]]] = {}
    for template in templates:
        resources = template["Resources"]
        for resource in resources.values():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource["Properties"]
            role = resources[props["Role"]["Fn::GetAtt"][0]]["Properties"]
            found[props["FunctionName"]] = [
                s for policy in role["Policies"]
                for s in _resolve(policy["PolicyDocument"])["Statement"] if s["Effect"] == "Allow"]
    return found


def allowed(statements: list[dict[str, Any]], action: str, arn: str) -> bool:
    """IAM's matching: actions case-insensitive with `*` globs, resources case-sensitive globs."""
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if (any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)
                and any(fnmatch.fnmatchcase(arn, r) for r in resources)):
            return True
    return False


def runners(app: App) -> list[tuple[str, str, str]]:
    """(kind, runner, function name) of every function the app deploys."""
    return [("component", c, names.function_name(app.name, c)) for c in app.component_names] + [
        (k, k, names.function_name(app.name, k)) for k in (names.COORDINATOR, names.INVOKER)]


def missing_grants(app: App, templates: list[dict[str, Any]]) -> list[str]:
    policies = role_statements(templates)
    calls = runtime_calls.aws_calls()
    problems = []
    for kind, runner, function in runners(app):
        reach = runtime_calls.reachable(kind)
        for call in calls:
            if (call.module, call.definition) not in reach:
                continue
            action = IAM_ACTIONS[(call.service, call.operation)]
            what = CALL_SITES[(call.module, call.definition)]
            for arn in resources_touched(app, kind, runner, what):
                if not allowed(policies[function], action, arn):
                    problems.append(f"{function}: {call.module}.py:{call.line} "
                                    f"{call.operation} needs {action} on {arn}")
    for component in app.components:
        if not component.native:
            continue
        function = names.function_name(app.name, component.name)
        queue = _arn("sqs", names.queue_name(app.name, component.name))
        problems += [f"{function}: its event source mapping needs {action} on {queue}"
                     for action in EVENT_SOURCE_ACTIONS
                     if not allowed(policies[function], action, queue)]
    return problems


def rendered(app: App) -> list[dict[str, Any]]:
    images = fake_images(app)
    return [functions.render(app, images), coordinator.render(app, images)]


def _cyclic_app(tmp_path: Path, native: bool = False) -> App:
    """Message and invocation components routing in a cycle, one by a routing function;
    `native`: the first component (which routes to the others) starts by its event source
    mapping, the second is pushed to."""
    write_app_tree(tmp_path)
    data = valid()
    if native:
        data["components"][0]["dispatch"] = config.NATIVE
    path = tmp_path / "lambda-complex.yaml"
    path.write_text(yaml.safe_dump(data))
    return load.load(path)


def test_every_runtime_call_site_is_known() -> None:
    calls = runtime_calls.aws_calls()
    assert {(c.module, c.definition) for c in calls} <= set(CALL_SITES), \
        "a new AWS call in the runtime: add its call site to CALL_SITES"
    unknown = {(c.service, c.operation) for c in calls} - set(IAM_ACTIONS)
    assert not unknown, f"map these operations to their IAM action: {unknown}"
    # the scan finds what it must: the batch calls and the coordinator's parameters
    expected = {("consume", "receive_message"), ("coordinator", "get_parameters"),
                ("invoker", "invoke"), ("inflight", "change_message_visibility"),
                ("batch", "delete_message_batch")}
    assert expected <= {(c.module, c.operation) for c in calls}


def test_each_function_runs_what_its_handler_reaches() -> None:
    assert ("consume", "run") in runtime_calls.reachable("component")
    assert ("inflight", "take") not in runtime_calls.reachable("component")
    assert ("coordinator", "read_parameters") in runtime_calls.reachable("coordinator")
    assert ("consume", "run") not in runtime_calls.reachable("invoker")


@pytest.mark.parametrize("which", ["example", "cyclic", "native"])
def test_rendered_roles_allow_every_runtime_call(which: str, example_app: App,
                                                 tmp_path: Path) -> None:
    app = example_app if which == "example" else _cyclic_app(tmp_path, which == "native")
    assert missing_grants(app, rendered(app)) == []


def test_contract_catches_a_native_role_without_the_mappings_grants(tmp_path: Path) -> None:
    app = _cyclic_app(tmp_path, native=True)
    templates = rendered(app)
    role = next(r for r in templates[0]["Resources"].values()
                if r["Type"] == "AWS::IAM::Role" and r["Properties"]["RoleName"] == "shop-orders")
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    own = next(s for s in statements if s["Sid"] == "OwnQueue")
    own["Action"] = [a for a in own["Action"] if a != "sqs:GetQueueAttributes"]
    assert missing_grants(app, templates) == [
        "shop-orders: its event source mapping needs sqs:GetQueueAttributes on "
        "arn:aws:sqs:eu-west-1:123456789012:shop-orders"]


def test_contract_catches_a_policy_without_get_parameters(example_app: App) -> None:
    """The policy as it was (ssm:GetParameter only) denies every coordinator generation."""
    templates = copy.deepcopy(rendered(example_app))
    text = json.dumps(templates[1]).replace('"ssm:GetParameters", ', "")
    assert text != json.dumps(templates[1])
    problems = missing_grants(example_app, [templates[0], json.loads(text)])
    assert problems
    assert all("sitegen-coordinator" in p and "ssm:GetParameters" in p for p in problems)


def test_contract_catches_a_missing_route(example_app: App) -> None:
    templates = rendered(example_app)
    render_role = next(r for r in templates[0]["Resources"].values()
                       if r["Type"] == "AWS::IAM::Role"
                       and r["Properties"]["RoleName"] == "sitegen-render")
    statements = render_role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s["Sid"] != "RouteToFunctions"]
    problems = missing_grants(example_app, templates)
    assert problems == [p for p in problems if "sitegen-publish" in p]
    assert any("lambda:InvokeFunction" in p for p in problems)

