"""`dispatch: native` end to end in a local run (process mode, IAM enforced): the functions stack
deploys the middle component's SQS event source mapping through the real sceptre CLI to the
emulator, the testbed's pollers run it as Lambda does (as the function's execution role), and
the wrapper answers the SQS event: every message arrives, none is lost, the mapping never runs
more than its maximum concurrency, and its deletes empty the queue."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from lambda_complex.builder.local.aws import emulator as emulator_mod
from lambda_complex.builder.local.lambda_service import event_source_pollers, functions
from lambda_complex.builder.local.run import testbed
from lambda_complex.runtime import names

from .conftest import missing_real_part

APP = """\
name: native
version: 0.1.0
deployment: {region: eu-west-1, registry: ecr}
coordinator: {concurrency: 1, min_interval: 1, timeout: 20}
components:
  - name: a
    type: event_from_message
    max_concurrency: 2
    routing: b
    lambda: {path: code, handler: fns.forward, timeout: 15}
  - name: b
    type: event_from_message
    dispatch: native
    max_concurrency: 2
    batch_size: 2
    batching_window: 1
    routing: c
    lambda: {path: code, handler: fns.slow, timeout: 15}
  - name: c
    type: event_from_message
    max_concurrency: 2
    lambda: {path: code, handler: fns.forward, timeout: 15}
"""
CODE = """\
import time

def forward(event, context):
    return event

def slow(event, context):
    time.sleep(0.3)  # long enough for the mapping's two pollers to overlap
    return event
"""
MESSAGES = 8


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testbed.Testbed]:
    root = tmp_path_factory.mktemp("native")
    (root / "lambda-complex.yaml").write_text(APP)
    (root / "code").mkdir()
    (root / "code" / "fns.py").write_text(textwrap.dedent(CODE))
    (root / "code" / "requirements.txt").write_text("")
    try:
        run = testbed.Testbed(root / "lambda-complex.yaml", "process", time_scale=0.05)
    except emulator_mod.EmulatorNotFound as e:
        missing_real_part(str(e))
    with run:
        yield run


def test_a_native_component_in_a_chain_loses_nothing_and_keeps_its_limit(
    bed: testbed.Testbed,
) -> None:
    assert bed.iam and bed.event_sources is not None
    # The deployed mapping is what the templates define (moto keeps every setting).
    (deployed,) = event_source_pollers.read_mappings(bed.client("lambda"))
    (defined,) = [f for f in functions.from_app(bed.app) if f.event_source is not None]
    source = defined.event_source
    assert source is not None and deployed.function == defined.name == "native-b"
    assert (deployed.queue_arn, deployed.batch_size, deployed.window, deployed.max_concurrency,
            deployed.report_item_failures, deployed.enabled) == (
        source.queue_arn, source.batch_size, source.window, source.max_concurrency,
        source.report_item_failures, source.enabled) == (
        "arn:aws:sqs:eu-west-1:123456789012:native-b", 2, 1, 2, True, True)

    bed.send_many("a", [{"n": n} for n in range(MESSAGES)])
    assert bed.wait_idle(60)

    got = bed.report()
    parts = got["components"]
    for name in ("a", "b", "c"):
        assert parts[name]["succeeded"] == MESSAGES, (name, parts[name])
        assert parts[name]["dead_lettered"] == 0
    assert got["totals"]["lost"] == 0
    assert 1 <= parts["b"]["max_concurrency_observed"] <= 2
    stats = bed.event_sources.stats()[deployed.uuid]
    assert got["event_source_mappings"] == {"native-b": stats}
    assert stats["records"] == stats["deleted"] == MESSAGES  # each once: nothing came back
    assert 1 <= stats["max_concurrency_observed"] <= 2
    assert stats.get("failed_batches", 0) == 0
    assert bed.queue_counts(names.queue_name("native", "b")) == (0, 0)  # the ESM deleted all


def test_the_pollers_act_as_the_functions_execution_role(bed: testbed.Testbed) -> None:
    """b's role may receive from its own queue, not send to a's (b does not route to a): the
    pollers' client is refused as b would be (the deployer's would not)."""
    assert bed.event_sources is not None and bed.event_sources.sqs_for is not None
    (mapping,) = event_source_pollers.read_mappings(bed.client("lambda"))
    as_b = bed.event_sources.sqs_for(mapping)
    url = bed.queue_url(names.queue_name("native", "b"))
    assert as_b.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    with pytest.raises(ClientError) as denied:
        as_b.send_message(QueueUrl=bed.queue_url(names.queue_name("native", "a")),
                          MessageBody="{}")
    assert "AccessDenied" in str(denied.value)
