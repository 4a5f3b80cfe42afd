"""IAM enforced in the local testbed: the emulator's IAM decides as AWS documents it (the action
and resource each call is authorized as), the local Lambda service authorizes `Invoke` and runs
each function with its own role's credentials, and a component without a grant is denied and
dead-lettered while its neighbours work."""

from __future__ import annotations

import json
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from lambda_complex.builder.cli import cli
from lambda_complex.builder.local.aws import emulator as emulator_mod
from lambda_complex.builder.local.aws import identities
from lambda_complex.builder.local.aws.emulator_server import moto_iam
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.builder.local.run import testbed
from lambda_complex.runtime import names

from .conftest import MakeService, lambda_client, missing_real_part

REGION, ACCOUNT = "eu-west-1", "123456789012"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


# Pure: what AWS authorizes each call as (the service authorization reference and the SQS
# permissions reference, cited in moto_iam).
def _authorization(service: str, operation: str, path: str = "/", **fields: Any) -> Any:
    return moto_iam.authorization(service, operation, REGION, ACCOUNT, path, fields.get)


@pytest.mark.parametrize(("operation", "action"), [
    ("SendMessageBatch", "SendMessage"),
    ("DeleteMessageBatch", "DeleteMessage"),
    ("ChangeMessageVisibilityBatch", "ChangeMessageVisibility"),
    ("ReceiveMessage", "ReceiveMessage"),
])
def test_sqs_batch_calls_are_authorized_as_their_single_message_actions(
    operation: str, action: str
) -> None:
    assert _authorization("sqs", operation) == (action, None)  # on moto's queue ARN


def test_get_queue_url_is_authorized_on_the_named_queue() -> None:
    assert _authorization("sqs", "GetQueueUrl", QueueName="q") == ("GetQueueUrl", [QUEUE_ARN])


def test_invoke_is_lambda_invoke_function_on_the_function_arn() -> None:
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:app-work"
    for named in ("app-work", "app-work:$LATEST", arn, f"{ACCOUNT}:function:app-work"):
        path = f"/2015-03-31/functions/{named.replace(':', '%3A')}/invocations"
        assert _authorization("lambda", "Invoke", path) == ("InvokeFunction", [arn])
    assert _authorization("lambda", "ListFunctions", "/2015-03-31/functions") == (
        "ListFunctions", None)


def test_ssm_parameters_are_authorized_on_each_named_parameter_arn() -> None:
    prefix = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/"
    assert _authorization("ssm", "GetParameters", Names=["/app/a", "b"]) == (
        "GetParameters", [prefix + "app/a", prefix + "b"])  # the leading slash is dropped
    assert _authorization("ssm", "GetParameter", Name="/app/a") == (
        "GetParameter", [prefix + "app/a"])
    assert _authorization("ssm", "DescribeParameters") == ("DescribeParameters", None)


def test_only_lambda_may_assume_an_execution_role() -> None:
    assert moto_iam.trusts_lambda(json.dumps(TRUST))
    other = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole"}]}
    assert not moto_iam.trusts_lambda(other)


# Against the emulator with enforcement on.
@pytest.fixture(scope="module")
def enforced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    try:
        running = emulator_mod.start(log_path=tmp_path_factory.mktemp("iam") / "emulator.log")
    except emulator_mod.EmulatorNotFound as e:
        missing_real_part(str(e))
    with running:
        url = running.endpoint_url

        def client(service: str, keys: dict[str, str]) -> Any:
            return boto3.client(
                service, endpoint_url=url, region_name=REGION,  # type: ignore[call-overload]
                aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=keys.get("AWS_SESSION_TOKEN"))

        admin = identities.create_deployer(boto3.client(
            "iam", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
            aws_secret_access_key="testing"))
        identities.enforce(url)
        iam = client("iam", admin)
        roles = {}
        for name, statements in {
            "worker": [
                {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage",
                 "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"], "Resource": QUEUE_ARN},
                {"Effect": "Allow", "Action": "ssm:GetParameter",
                 "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/*"},
                {"Effect": "Allow", "Action": "lambda:InvokeFunction",
                 "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:env"}],
            "nothing": [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}],
        }.items():
            roles[name] = iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
            iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": statements}))
        queue = client("sqs", admin).create_queue(QueueName="q")["QueueUrl"]
        client("ssm", admin).put_parameter(Name="/app/a", Value="1", Type="String")
        client("ssm", admin).put_parameter(Name="/other", Value="1", Type="String")
        credentials = identities.RoleCredentials(url, REGION)
        yield {"url": url, "client": client, "admin": admin, "roles": roles, "queue": queue,
               "credentials": credentials,
               "as": lambda role: credentials.for_role(roles[role], role).environment}


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_a_role_sends_receives_and_deletes_in_batches_with_single_message_grants(
    enforced: dict[str, Any],
) -> None:
    sqs = enforced["client"]("sqs", enforced["as"]("worker"))
    queue = enforced["queue"]
    sent = sqs.send_message_batch(QueueUrl=queue, Entries=[
        {"Id": str(i), "MessageBody": "x"} for i in range(3)])
    assert len(sent["Successful"]) == 3
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
    changed = sqs.change_message_visibility_batch(QueueUrl=queue, Entries=[
        {**e, "VisibilityTimeout": 0} for e in entries])
    assert len(changed["Successful"]) == len(got)
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    deleted = sqs.delete_message_batch(QueueUrl=queue, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    assert len(deleted["Successful"]) == len(got) == 3
    with pytest.raises(ClientError) as denied:
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])
    assert _code(denied.value) == "AccessDenied"
    assert f"sqs:GetQueueAttributes on resource: {QUEUE_ARN}" in str(denied.value)


def test_parameters_are_granted_by_arn_and_get_parameters_is_its_own_action(
    enforced: dict[str, Any],
) -> None:
    ssm = enforced["client"]("ssm", enforced["as"]("worker"))
    assert ssm.get_parameter(Name="/app/a")["Parameter"]["Value"] == "1"
    with pytest.raises(ClientError) as other:
        ssm.get_parameter(Name="/other")
    assert _code(other.value) == "AccessDeniedException"
    with pytest.raises(ClientError) as batch:
        ssm.get_parameters(Names=["/app/a"])  # ssm:GetParameter does not grant GetParameters
    assert "ssm:GetParameters" in str(batch.value)


def test_unknown_credentials_and_untrusting_roles_are_refused(enforced: dict[str, Any]) -> None:
    fake = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    with pytest.raises(ClientError) as unknown:
        enforced["client"]("sqs", fake).list_queues()
    assert _code(unknown.value) == "InvalidClientTokenId"
    iam = enforced["client"]("iam", enforced["admin"])
    untrusting = iam.create_role(RoleName="ec2-only", AssumeRolePolicyDocument=json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    with pytest.raises(identities.IdentityError, match="cannot be assumed by Lambda"):
        enforced["credentials"].for_role(untrusting, "fn")


def test_the_service_authorizes_invoke_and_runs_each_function_with_its_role(
    enforced: dict[str, Any], make_service: MakeService,
) -> None:
    roles = enforced["roles"]
    service = make_service(
        FunctionDefinition("env", "fns.env", timeout=5, role=roles["nothing"]),
        aws_env={"AWS_ENDPOINT_URL": enforced["url"]},
        credentials=enforced["credentials"], authorizer=enforced["url"])
    keys = ["AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN"]

    def invoke(caller: dict[str, str]) -> Any:
        client = lambda_client(service.url)
        client = boto3.client(
            "lambda", endpoint_url=service.url, region_name=REGION,
            aws_access_key_id=caller["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=caller["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=caller.get("AWS_SESSION_TOKEN"), config=client.meta.config)
        return client.invoke(FunctionName="env", Payload=json.dumps({"keys": keys}))

    answer = json.loads(invoke(enforced["as"]("worker"))["Payload"].read())
    own = enforced["as"]("nothing")
    assert answer == {k: own[k] for k in keys}  # the function's role, not the caller's
    with pytest.raises(ClientError) as denied:
        invoke(enforced["as"]("nothing"))  # its role grants no lambda:InvokeFunction
    assert _code(denied.value) == "AccessDeniedException"
    assert "lambda:InvokeFunction on resource: arn:aws:lambda:" in str(denied.value)
    unsigned = urllib.request.Request(
        f"{service.url}/2015-03-31/functions/env/invocations", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403
    assert "Missing Authentication Token" in refused.value.read().decode()
    assert service.stats()["env"]["invocations"] == 1


def test_an_instance_is_retired_when_its_credentials_are_due(
    enforced: dict[str, Any], make_service: MakeService,
) -> None:
    short = identities.RoleCredentials(enforced["url"], REGION, renew_after=1.0)
    service = make_service(
        FunctionDefinition("env", "fns.env", timeout=5, role=enforced["roles"]["nothing"]),
        credentials=short)
    client = lambda_client(service.url)

    def key() -> str:
        answer = client.invoke(FunctionName="env", Payload=b'{"keys": ["AWS_ACCESS_KEY_ID"]}')
        return str(json.loads(answer["Payload"].read())["AWS_ACCESS_KEY_ID"])

    first = key()
    assert key() == first and service.stats()["env"]["cold_starts"] == 1  # warm, still fresh
    time.sleep(1.2)
    assert key() != first  # a new instance, with a new session
    assert service.stats()["env"]["cold_starts"] == 2


# The probe, in a local run: a component whose role grants nothing is denied.
PROBE_APP = """\
name: probe
version: 0.1.0
deployment: {region: eu-west-1, registry: ecr}
coordinator: {concurrency: 1, min_interval: 1, timeout: 20}
roles:
  - name: writer
    statements:
      - {effect: Allow, action: ["s3:PutObject"], resource: "arn:aws:s3:::lc-probe-site/*"}
components:
  - name: ingest
    type: event_from_message
    max_concurrency: 2
    queue_wait_time: 0
    max_receive_count: 3
    routing: [write, intrude]
    lambda: {path: code, handler: fns.ingest, timeout: 5}
  - name: write
    type: event_from_invocation
    max_concurrency: 2
    lambda: {path: code, handler: fns.write, timeout: 5, role: writer}
  - name: intrude
    type: event_from_message
    max_concurrency: 2
    queue_wait_time: 0
    max_receive_count: 3
    lambda: {path: code, handler: fns.write, timeout: 5}
"""
PROBE_CODE = """\
import boto3

def ingest(event, context):
    return event

def write(event, context):
    boto3.client("s3").put_object(Bucket="lc-probe-site", Key=event["key"], Body=b"x")
    return event
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testbed.Testbed]:
    root = tmp_path_factory.mktemp("probe")
    (root / "lambda-complex.yaml").write_text(PROBE_APP)
    (root / "code").mkdir()
    (root / "code" / "fns.py").write_text(textwrap.dedent(PROBE_CODE))
    (root / "code" / "requirements.txt").write_text("")
    try:
        bed = testbed.Testbed(root / "lambda-complex.yaml", "process", time_scale=0.05,
                              service_options={"retry_delays": (0.2, 0.2)})
    except emulator_mod.EmulatorNotFound as e:
        missing_real_part(str(e))
    with bed:
        yield bed


def test_a_component_without_a_grant_is_denied_and_dead_lettered_nothing_lost(
    probe: testbed.Testbed,
) -> None:
    probe.send_many("ingest", [{"key": f"k{n}"} for n in range(4)])
    assert probe.wait_idle(90)
    got = probe.report()
    parts = got["components"]
    assert parts["ingest"]["succeeded"] == 4 and parts["write"]["succeeded"] == 4
    assert parts["intrude"]["dead_lettered"] == 4
    assert parts["intrude"]["failed"] == 4  # once each: AccessDenied is not retried
    assert got["totals"]["lost"] == 0
    assert probe.s3_objects()["lc-probe-site"] == ["k0", "k1", "k2", "k3"]
    sqs = probe.client("sqs")
    dlq = probe.queue_url(names.dead_letter_queue_name("probe", "intrude"))
    bodies = [m["Body"] for m in sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
        AttributeNames=["All"]).get("Messages", [])]
    assert bodies, "the dead-letter queue is empty"
    logged = [line for line in probe.logs.poll()
              if line.get("component") == "intrude" and line.get("outcome") == "dead_lettered"]
    assert len(logged) == 4
    assert all("AccessDenied" in str(line.get("reason")) for line in logged), logged[0]


def test_the_coordinator_chain_runs_past_16_generations(probe: testbed.Testbed) -> None:
    deadline = time.monotonic() + 60
    generations = 0
    while time.monotonic() < deadline and generations <= 17:
        generations = max([line.get("generation", 0) for line in probe.logs.poll()
                           if line.get("event") == "chain_generation"], default=0)
        time.sleep(0.5)
    assert generations > 17
    coordinator = probe.stats()[names.function_name("probe", names.COORDINATOR)]
    assert coordinator["recursion_stopped"] == 0


def test_no_iam_allows_every_call_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "lambda-complex.yaml").write_text(PROBE_APP)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "fns.py").write_text(textwrap.dedent(PROBE_CODE))
    (tmp_path / "code" / "requirements.txt").write_text("")
    report_file = tmp_path / "report.json"
    result = CliRunner().invoke(cli, [
        "local", "run", "--app", str(tmp_path / "lambda-complex.yaml"), "--mode", "process",
        "--no-iam", "--send", 'ingest={"key": "k"}', "--until-idle", "--timeout", "90",
        "--report", str(report_file)])
    assert result.exit_code == 0, result.output
    assert f"warning: {identities.NO_IAM_WARNING}" in result.output
    got = json.loads(report_file.read_text())
    assert got["components"]["intrude"]["succeeded"] == 1  # no grant needed without IAM
    assert got["components"]["intrude"]["dead_lettered"] == 0
