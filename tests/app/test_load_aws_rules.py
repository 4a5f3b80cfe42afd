"""What AWS (or the runtime's time policy) would refuse later is refused by the loader: derived
names that collide, malformed ARNs, a message component too short-lived to take a message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_complex.builder.app import arns, load
from lambda_complex.builder.errors import DefinitionError
from lambda_complex.runtime import consume

from .conftest import valid


def _errors(write_definition: Callable[[Any], Path], data: dict[str, Any]) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load.load(write_definition(data))
    return [str(e) for e in caught.value.errors]


def _component(name: str, kind: str = "event_from_message") -> dict[str, Any]:
    return {"name": name, "type": kind, "lambda": {"path": "orders", "handler": "orders.handler"}}


# --- derived names -------------------------------------------------------------------------

def test_dlq_named_component_beside_its_namesake_collides(
    write_definition: Callable[[Any], Path],
) -> None:
    data = valid()
    data["components"] += [_component("x"), _component("x-dlq")]
    assert _errors(write_definition, data) == [
        "components[4].name: queue name 'shop-x-dlq' (the input queue of 'x-dlq') is also "
        "the dead-letter queue of 'x' (components[3]); rename one"
    ]


def test_lease_queue_collision(write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["components"] += [_component("x-inflight"), _component("x")]
    assert _errors(write_definition, data) == [
        "components[4].name: queue name 'shop-x-inflight' (the lease queue of 'x') is also "
        "the input queue of 'x-inflight' (components[3]); rename one"
    ]


def test_invocation_component_has_no_input_queue_to_collide(
    write_definition: Callable[[Any], Path],
) -> None:
    data = valid()
    data["components"] += [_component("x"), _component("x-dlq", "event_from_invocation")]
    assert {c.name for c in load.load(write_definition(data)).components} >= {"x", "x-dlq"}


def test_role_names_collide_ignoring_case_as_iam_compares_them(
    write_definition: Callable[[Any], Path],
) -> None:
    data = valid()
    data["components"].append(_component("Coordinator"))
    assert _errors(write_definition, data) == [
        "components[3].name: IAM role name 'shop-coordinator' (the role of 'Coordinator') is "
        "also the coordinator's role; rename one"
    ]


# --- ARNs in role statements ---------------------------------------------------------------

@pytest.mark.parametrize("resource", [
    "*", "arn:aws:s3:::bucket/*", "arn:aws:sqs:*:123456789012:queue-*",
    "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t",
    "arn:aws:sqs:*", "arn:aws:s3:::home/${aws:username}/*", "arn:*:logs:eu-west-?:*:log-group:x:*",
])
def test_valid_resources(resource: str) -> None:
    assert arns.arn_problem(resource) is None


@pytest.mark.parametrize(("resource", "fragment"), [
    ("s3://bucket/key", "is not '*' or an ARN"),
    ("arn:aws:s3::bucket", "has 5 of the 6 colon-separated parts"),
    ("arn:amazon:s3:::bucket", "partition 'amazon'"),
    ("arn:aws:*:eu-west-1:123456789012:thing", "service '*'"),
    ("arn:aws:sqs:eu west 1:123456789012:q", "region 'eu west 1'"),
    ("arn:aws:sqs:eu-west-1:12345:q", "account '12345'"),
    ("arn:aws:sqs:eu-west-1:123456789012:", "resource ''"),
])
def test_malformed_resources(resource: str, fragment: str) -> None:
    problem = arns.arn_problem(resource)
    assert problem is not None and fragment in problem, problem


def test_malformed_arn_is_reported_with_its_field_path(
    write_definition: Callable[[Any], Path],
) -> None:
    data = valid()
    data["roles"][0]["statements"][0]["resource"] = "arn:aws:s3::bucket"
    assert _errors(write_definition, data) == [
        "roles[0].statements[0].resource: 'arn:aws:s3::bucket' has 5 of the 6 colon-separated "
        "parts of an ARN (arn:partition:service:region:account-id:resource)"
    ]
    data["roles"][0]["statements"][0]["resource"] = ["*", "arn:aws:sqs:eu-west-1:12345:q"]
    [message] = _errors(write_definition, data)
    assert message.startswith("roles[0].statements[0].resource[1]: "), message


# --- a message component's timeout ---------------------------------------------------------

def test_message_component_timeout_must_allow_one_receive_and_one_handler_call(
    write_definition: Callable[[Any], Path],
) -> None:
    minimum = consume.min_timeout_s(0)
    assert minimum > 1
    data = valid()
    data["components"][1]["lambda"]["timeout"] = 1
    data["components"][1]["visibility_timeout"] = 30
    assert _errors(write_definition, data) == [
        f"components[1].lambda.timeout: 1 s is too short for an event_from_message component: "
        f"it needs at least {minimum} s to receive a message and call the handler, since the "
        "runtime keeps time in reserve to route and delete"
    ]
    data["components"][1]["lambda"]["timeout"] = minimum
    assert load.load(write_definition(data)).component("bill").lambda_.timeout == minimum
    # An invocation component takes no message from a queue: any timeout Lambda allows.
    data["components"][2]["lambda"]["timeout"] = 1
    assert load.load(write_definition(data)).component("notify").lambda_.timeout == 1


@pytest.mark.parametrize("queue_wait_time", [0, 1, 5, 20])
def test_minimum_timeout_follows_the_runtime_time_policy(queue_wait_time: int) -> None:
    """At the minimum, an invocation that starts with its full time (less the allowance for
    its own start) makes a receive and still has its reserve after waiting it out; one second
    less and the policy refuses the first receive or leaves no reserve for the handler."""

    def first_handler_call(timeout: int) -> bool:
        remaining = timeout * 1000 - consume.FIRST_RECEIVE_ALLOWANCE_MS
        reserve = consume.reserve_ms(timeout, 0)
        wait = consume.receive_wait(remaining, reserve, queue_wait_time)
        return wait is not None and remaining - wait * 1000 >= reserve

    minimum = consume.min_timeout_s(queue_wait_time)
    assert first_handler_call(minimum)
    assert not first_handler_call(minimum - 1)
