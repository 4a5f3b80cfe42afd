"""Least privilege: each component may touch only what it routes to; exact ARNs only."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import yaml

from lambda_complex.builder.app import load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import iam

ACCOUNT_ARN = "arn:aws:{service}:eu-west-1:123456789012:{resource}"
LOG_STREAMS = r"arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/sitegen-[A-Za-z0-9-]+:\*"
OWN_PARAMETERS = "arn:aws:ssm:eu-west-1:123456789012:parameter/lambda-complex/sitegen/*"


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    resolved: dict[str, Any] = iam.resolve(policy)
    return list(resolved["Statement"])


def allowed(policy: dict[str, Any], action: str, resource: str) -> bool:
    """IAM's matching (case-insensitive actions, `*`/`?` globs in resources) of Allow statements."""
    for s in _statements(policy):
        if s["Effect"] != "Allow":
            continue
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
            continue
        if any(fnmatch.fnmatchcase(resource, r) for r in s["Resource"]):
            return True
    return False


def queue(name: str) -> str:
    return ACCOUNT_ARN.format(service="sqs", resource=name)


def function(name: str) -> str:
    return ACCOUNT_ARN.format(service="lambda", resource=f"function:{name}")


def test_component_sends_only_where_it_routes(example_app: App) -> None:
    render = iam.component_policy(example_app, example_app.component("render"))
    # render routes to publish (invocation) and search-index (message)
    assert allowed(render, "sqs:SendMessage", queue("sitegen-search-index"))
    assert allowed(render, "lambda:InvokeFunction", function("sitegen-publish"))
    assert not allowed(render, "sqs:SendMessage", queue("sitegen-ingest"))
    assert not allowed(render, "sqs:SendMessage", queue("sitegen-render-inflight-x"))
    assert not allowed(render, "lambda:InvokeFunction", function("sitegen-toc"))
    assert not allowed(render, "sqs:ReceiveMessage", queue("sitegen-search-index"))
    # its own queue: receive, delete and send (a message not started on its last allowed
    # receive goes back as a new one); its DLQ: send
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"):
        assert allowed(render, action, queue("sitegen-render"))
    assert allowed(render, "sqs:SendMessage", queue("sitegen-render-dlq"))
    # its lease queue: hand the lease back, nothing else (whoever starts it takes the lease)
    assert allowed(render, "sqs:ChangeMessageVisibility", queue("sitegen-render-inflight"))
    for action in ("sqs:ReceiveMessage", "sqs:SendMessage", "sqs:DeleteMessage"):
        assert not allowed(render, action, queue("sitegen-render-inflight"))


def test_coordinator_and_invoker_take_leases_only_from_lease_queues(example_app: App) -> None:
    for policy in (iam.coordinator_policy(example_app), iam.invoker_policy(example_app)):
        for action in ("sqs:ReceiveMessage", "sqs:SendMessage", "sqs:ChangeMessageVisibility"):
            assert allowed(policy, action, queue("sitegen-render-inflight"))
            assert not allowed(policy, action, queue("sitegen-render"))
            assert not allowed(policy, action, queue("sitegen-publish-inflight"))  # no queue
        assert not allowed(policy, "sqs:DeleteMessage", queue("sitegen-render-inflight"))


def test_search_index_cannot_send_anywhere_else(example_app: App) -> None:
    policy = iam.component_policy(example_app, example_app.component("search-index"))
    for name in ("sitegen-render", "sitegen-ingest", "sitegen-toc-dlq"):
        assert not allowed(policy, "sqs:SendMessage", queue(name))
    assert not allowed(policy, "lambda:InvokeFunction", function("sitegen-publish"))
    # the user's statements of role site-writer
    assert allowed(policy, "s3:PutObject", "arn:aws:s3:::sitegen-example-site/index.json")
    # a missing search.json must read as 404 NoSuchKey, which S3 answers only with ListBucket
    assert allowed(policy, "s3:ListBucket", "arn:aws:s3:::sitegen-example-site")
    assert not allowed(
        iam.component_policy(example_app, example_app.component("render")),
        "s3:PutObject",
        "arn:aws:s3:::sitegen-example-site/index.json",
    )


def test_routing_function_with_declared_targets(example_app: App) -> None:
    ingest = iam.component_policy(example_app, example_app.component("ingest"))
    assert allowed(ingest, "sqs:SendMessage", queue("sitegen-render"))
    assert allowed(ingest, "lambda:InvokeFunction", function("sitegen-toc"))
    assert not allowed(ingest, "lambda:InvokeFunction", function("sitegen-publish"))
    assert not allowed(ingest, "sqs:SendMessage", queue("sitegen-search-index"))


def _all_policies(app: App) -> list[dict[str, Any]]:
    return [iam.component_policy(app, c) for c in app.components] + [
        iam.coordinator_policy(app),
        iam.invoker_policy(app),
    ]


def test_no_wildcards_on_our_resources(example_app: App) -> None:
    user_resources = {r for role in example_app.roles for s in role.statements for r in s.resources}
    for policy in _all_policies(example_app):
        for s in _statements(policy):
            assert all("*" not in a for a in s["Action"]), s
            for r in s["Resource"]:
                if r in user_resources:
                    continue
                if "*" in r:  # only an exact log group's streams, and the app's own SSM path
                    assert re.fullmatch(LOG_STREAMS, r) or r == OWN_PARAMETERS, r


def test_an_app_sharing_a_name_prefix_is_not_matched(example_app: App, tmp_path: Path) -> None:
    data = yaml.safe_load((example_app.source).read_text())
    data["name"] = "site"
    for c in data["components"]:
        c["lambda"]["path"] = str(example_app.root / c["lambda"]["path"])
    (tmp_path / "lambda-complex.yaml").write_text(yaml.safe_dump(data))
    site = load.load(tmp_path / "lambda-complex.yaml")
    # every resource of app sitegen, and of a component named like a prefix of it
    theirs = [
        queue(n)
        for n in (
            "sitegen-render",
            "sitegen-render-dlq",
            "sitegen-ingest",
            "site-render2",
            "sitegen-search-index-inflight",
        )
    ]
    theirs += [function(n) for n in ("sitegen-publish", "sitegen-coordinator", "site-toc2")]
    theirs += [
        ACCOUNT_ARN.format(service="ssm", resource="parameter/lambda-complex/sitegen/control"),
        ACCOUNT_ARN.format(service="logs", resource="log-group:/aws/lambda/sitegen-render:*"),
    ]
    for policy in _all_policies(site):
        for s in _statements(policy):
            for action in s["Action"]:
                for arn in theirs:
                    assert not allowed({"Statement": [s]}, action, arn), (action, arn)
    coordinator = iam.coordinator_policy(site)
    own_chain = ACCOUNT_ARN.format(service="ssm", resource="parameter/lambda-complex/site/chains/0")
    assert allowed(coordinator, "ssm:PutParameter", own_chain)
    assert allowed(coordinator, "sqs:GetQueueAttributes", queue("site-render-inflight"))
    assert allowed(coordinator, "lambda:InvokeFunction", function("site-invoker"))


def _native_example(example_app: App, tmp_path: Path) -> App:
    """The example with render (ingest's target, max_concurrency 3) started by its mapping."""
    data = yaml.safe_load((example_app.source).read_text())
    for c in data["components"]:
        c["lambda"]["path"] = str(example_app.root / c["lambda"]["path"])
        if c["name"] == "render":
            c["dispatch"] = "native"
    (tmp_path / "lambda-complex.yaml").write_text(yaml.safe_dump(data))
    return load.load(tmp_path / "lambda-complex.yaml")


def test_a_native_component_polls_its_queue_and_has_no_lease(example_app: App,
                                                              tmp_path: Path) -> None:
    app = _native_example(example_app, tmp_path)
    render = iam.component_policy(app, app.component("render"))
    # What the event source mapping needs of the execution role, on its own queue only.
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
                   "sqs:ChangeMessageVisibility"):
        assert allowed(render, action, queue("sitegen-render"))
        assert not allowed(render, action, queue("sitegen-search-index"))
    assert not allowed(render, "sqs:ChangeMessageVisibility", queue("sitegen-render-inflight"))
    # Senders start a native target neither by lease nor by Invoke; they only send to it.
    ingest = iam.component_policy(app, app.component("ingest"))
    assert allowed(ingest, "sqs:SendMessage", queue("sitegen-render"))
    assert not allowed(ingest, "sqs:ReceiveMessage", queue("sitegen-render-inflight"))
    assert not allowed(ingest, "lambda:InvokeFunction", function("sitegen-render"))
    # The coordinator and invoker leave it alone; other components as before.
    for policy in (iam.coordinator_policy(app), iam.invoker_policy(app)):
        assert not allowed(policy, "lambda:InvokeFunction", function("sitegen-render"))
        assert not allowed(policy, "sqs:ReceiveMessage", queue("sitegen-render-inflight"))
        assert not allowed(policy, "sqs:GetQueueAttributes", queue("sitegen-render"))
        assert allowed(policy, "lambda:InvokeFunction", function("sitegen-ingest"))
        assert allowed(policy, "sqs:ReceiveMessage", queue("sitegen-ingest-inflight"))
