"""Least-privilege IAM policy documents, as pure data (no AWS, no troposphere resources).

One role per component, generated from what it routes to:
- its own input queue: receive, delete, change visibility, read attributes (a native
  component's event source mapping polls with the function's execution role, and needs the same:
  https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, execution role permissions), and
  send (a message handed back unstarted on its last allowed receive goes back as a new one);
- its own lease queue (in-flight accounting): change visibility only (it hands its lease back;
  the coordinator or invoker that started it took the lease); a native component has none;
- its own dead-letter queue: send (malformed input goes there at once; Lambda's on-failure
  destination for asynchronous invocations uses the function's role too);
- the input queues of the message components it may route to: send;
- the functions of the invocation components it may route to: invoke;
- its own log group; plus the user's statements from the role it names.

The coordinator and the invoker never touch a native component (its mapping starts it): no
grant on its queue or function.

Every resource is an exact ARN built from `runtime.names` (`Fn::Sub` for partition, region and
account). No `*` action and no name-prefix wildcard touches our own resources; the only wildcard
is the SSM path `/lambda-complex/<app>/*`, whose trailing slash keeps other apps out.
"""

from __future__ import annotations

from typing import Any

from lambda_complex.builder.app.model import App, Component, Statement
from lambda_complex.builder.cfn import common
from lambda_complex.runtime import config, names

PolicyDocument = dict[str, Any]

# Batch calls (DeleteMessageBatch, ...) are authorised by their single-message actions.
INPUT_QUEUE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
RELEASE_LEASE_ACTIONS = ("sqs:ChangeMessageVisibility", "sqs:GetQueueUrl")
# Starting an invocation: take its lease (receive; count the pool and top it up to the limit
# when it is short), hand it back when the Invoke fails.
TAKE_LEASE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
# Push dispatch (runtime `push`): take a free lease of the target (receive only, never add one),
# hand it back when the Invoke fails; read the pause switch.
PUSH_LEASE_ACTIONS = ("sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl")
READ_PARAMETER_ACTIONS = ("ssm:GetParameters",)
SEND_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueUrl")
INVOKE_ACTIONS = ("lambda:InvokeFunction",)
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
WATCH_QUEUE_ACTIONS = ("sqs:GetQueueAttributes", "sqs:GetQueueUrl")
# The coordinator reads the control switch and the chain heartbeats in one GetParameters call,
# which IAM authorises as its own action, not as ssm:GetParameter
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html).
PARAMETER_ACTIONS = ("ssm:GetParameters", "ssm:PutParameter")

ASSUME_ROLE_POLICY: PolicyDocument = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}


def _allow(sid: str, actions: tuple[str, ...], resources: list[Any]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}


def _user_statement(index: int, statement: Statement) -> dict[str, Any]:
    data: dict[str, Any] = {
        "Sid": f"User{index}",
        "Effect": statement.effect,
        "Action": list(statement.actions),
        "Resource": list(statement.resources),
    }
    if statement.condition:
        data["Condition"] = statement.condition
    return data


def _document(statements: list[dict[str, Any]]) -> PolicyDocument:
    return {"Version": "2012-10-17", "Statement": [s for s in statements if s["Resource"]]}


def route_targets(app: App, component: Component) -> tuple[list[Component], list[Component]]:
    """The message components and the invocation components `component` may send results to."""
    targets = [app.component(n)
               for n in component.routing.possible_targets(app.component_names)]
    return [t for t in targets if t.has_queue], [t for t in targets if not t.has_queue]


def component_policy(app: App, component: Component) -> PolicyDocument:
    a = app.name
    message_targets, invocation_targets = route_targets(app, component)
    statements = []
    if component.has_queue:
        statements.append(_allow("OwnQueue", INPUT_QUEUE_ACTIONS,
                                 [common.queue_arn(names.queue_name(a, component.name))]))
    if component.has_lease_queue:
        statements.append(_allow("OwnLeaseQueue", RELEASE_LEASE_ACTIONS,
                                 [common.queue_arn(names.inflight_queue_name(a, component.name))]))
    statements.append(_allow("OwnDeadLetterQueue", SEND_ACTIONS,
                             [common.queue_arn(names.dead_letter_queue_name(a, component.name))]))
    statements.append(_allow("RouteToQueues", SEND_ACTIONS,
                             [common.queue_arn(names.queue_name(a, t.name))
                              for t in message_targets]))
    statements.append(_allow("RouteToFunctions", INVOKE_ACTIONS,
                             [common.function_arn(names.function_name(a, t.name))
                              for t in invocation_targets]))
    pushed = [t for t in message_targets if t.dispatch == config.PUSH]
    statements.append(_allow("PushLeases", PUSH_LEASE_ACTIONS,
                             [common.queue_arn(names.inflight_queue_name(a, t.name))
                              for t in pushed]))
    statements.append(_allow("PushStart", INVOKE_ACTIONS,
                             [common.function_arn(names.function_name(a, t.name))
                              for t in pushed]))
    statements.append(_allow("PushPauseSwitch", READ_PARAMETER_ACTIONS,
                             [common.arn("ssm", f"parameter{names.control_parameter_name(a)}")]
                             if pushed else []))
    statements.append(_allow("OwnLogs", LOG_ACTIONS,
                             [common.log_group_arn(names.function_name(a, component.name))]))
    if component.lambda_.role is not None:
        role = app.role(component.lambda_.role)
        statements.extend(_user_statement(i, s) for i, s in enumerate(role.statements))
    return _document(statements)


def _lease_queues(app: App) -> list[Any]:
    return [common.queue_arn(names.inflight_queue_name(app.name, c.name))
            for c in app.components if c.has_lease_queue]


def _startable(app: App) -> list[Any]:
    """The functions of the components a coordinator or invoker may start: all but native."""
    return [common.function_arn(names.function_name(app.name, c.name))
            for c in app.components if not c.native]


def coordinator_policy(app: App) -> PolicyDocument:
    a = app.name
    leases = _lease_queues(app)
    queues = [common.queue_arn(names.queue_name(a, c.name))
              for c in app.components if c.has_lease_queue]
    functions = _startable(app)
    functions += [common.function_arn(names.function_name(a, names.INVOKER)),
                  common.function_arn(names.function_name(a, names.COORDINATOR))]
    return _document([
        _allow("WatchQueues", WATCH_QUEUE_ACTIONS, queues + leases),
        _allow("TakeLeases", TAKE_LEASE_ACTIONS, leases),
        _allow("StartFunctions", INVOKE_ACTIONS, functions),
        _allow("ControlParameters", PARAMETER_ACTIONS, [common.parameter_arn(app)]),
        _allow("OwnLogs", LOG_ACTIONS,
               [common.log_group_arn(names.function_name(a, names.COORDINATOR))]),
    ])


def invoker_policy(app: App) -> PolicyDocument:
    a = app.name
    functions = _startable(app)
    functions.append(common.function_arn(names.function_name(a, names.INVOKER)))
    return _document([
        _allow("TakeLeases", TAKE_LEASE_ACTIONS, _lease_queues(app)),
        _allow("StartFunctions", INVOKE_ACTIONS, functions),
        _allow("OwnLogs", LOG_ACTIONS,
               [common.log_group_arn(names.function_name(a, names.INVOKER))]),
    ])


def resolve(value: Any, region: str = "eu-west-1", account: str = "123456789012",
            partition: str = "aws") -> Any:
    """A policy document with every `Fn::Sub` ARN expanded (for tests and `--dry-run` output)."""
    from troposphere import Sub

    if isinstance(value, Sub):
        text = value.to_dict()["Fn::Sub"]
        assert isinstance(text, str)
        return (text.replace("${AWS::Partition}", partition)
                .replace("${AWS::Region}", region).replace("${AWS::AccountId}", account))
    if isinstance(value, dict):
        return {k: resolve(v, region, account, partition) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, region, account, partition) for v in value]
    return value
