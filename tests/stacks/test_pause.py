"""`lcbuild pause`/`resume`, the switchover and `lcbuild status` with event source mappings (a
native component's dispatcher, which the control value does not stop), against the emulator:
mappings made directly with boto3 on moto functions and queues, as the functions stack makes
them. And the deployer's IAM statements for them; a mapping busy in a transition, which moto
never is, from a loopback server answering as Lambda does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import boto3
import pytest

from lambda_complex.builder import api
from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy import mappings, pause, switchover, switchover_plan
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.deploy.deployer_policy import deployer_policy
from lambda_complex.builder.deploy.mappings import MappingState
from lambda_complex.builder.deploy.status import format_text, gather
from lambda_complex.builder.deploy.switchover_steps import TickSchedule
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.runtime import protocol
from lambda_complex.runtime.config import NATIVE
from tests.stacks.test_plan import OFF, ON, RESUME, TICK, inputs, mappings_off, mappings_on, specs
from tests.stacks.test_plan import pause as pause_step

CONTROL = "/lambda-complex/sitegen/control"


def test_the_deploy_plan_resumes_the_mappings_its_pause_disables() -> None:
    given = inputs(specs("Render"), [], kept=specs("Render"), mappings=(ON, OFF))
    assert list(switchover_plan.plan_deploy(given).steps) == [
        pause_step(), mappings_off(ON), RESUME, mappings_on(OFF, replace(ON, state="Disabled")),
        TICK]
    paused = replace(given, control="paused", mappings=(OFF,))
    assert list(switchover_plan.plan_deploy(paused).steps) == []


@pytest.mark.parametrize(("state", "enable", "disable"), [
    ("Enabled", False, True), ("Enabling", False, True),
    ("Disabled", True, False), ("Disabling", True, False),
    ("Creating", True, True), ("Updating", True, True),  # where it goes is not known
    ("Deleting", False, False),
])
def test_which_mappings_an_update_needs(state: str, enable: bool, disable: bool) -> None:
    assert mappings.needs_update(state, True) is enable
    assert mappings.needs_update(state, False) is disable


def test_mappings_follow_the_control_value_and_are_read_from_aws_answers() -> None:
    assert [mappings.wanted(v) for v in ("running", "paused", "deploying", None)] == [
        True, False, False, None]
    entry = {"UUID": "u-1", "State": "Enabled",
             "EventSourceArn": "arn:aws:sqs:eu-west-1:123456789012:app-work",
             "FunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:app-work"}
    assert mappings.mapping_from(entry) == MappingState("u-1", "app-work", "app-work", "Enabled")
    stream = {**entry, "EventSourceArn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s"}
    assert mappings.mapping_from(stream) is None


def native(app: App, *components: str) -> App:
    return replace(app, components=tuple(replace(c, dispatch=NATIVE) if c.name in components
                                         else c for c in app.components))


def mapped_function(account: Aws, component: str, enabled: bool = True) -> str:
    """Function sitegen-<component> with a mapping on queue sitegen-<component>: its UUID."""
    name = f"sitegen-{component}"
    role = boto3.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": []}))["Role"]["Arn"]
    lam = boto3.client("lambda")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="h.h",
                        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    url = account.sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = account.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    uuid: str = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                                Enabled=enabled)["UUID"]
    return uuid


def mapping_state(uuid: str) -> str:
    return str(boto3.client("lambda").get_event_source_mapping(UUID=uuid)["State"])


def control(account: Aws) -> str | None:
    found = account.get_parameter(CONTROL)
    return found.value if found else None


def test_pause_disables_the_mappings_and_resume_enables_them(
    aws: Emulator, example_app: App
) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    account.put_parameter(CONTROL, "running")
    app = native(example_app, "render")
    render = mapped_function(account, "render")
    paused = api.pause(app)
    assert paused.control == ("running", "paused") and mapping_state(render) == "Disabled"
    assert [(m.function, m.queue, m.before, m.updated) for m in paused.mappings] == [
        ("sitegen-render", "sitegen-render", "Enabled", True)]
    again = api.pause(app)  # idempotent: nothing left to change
    assert again.control == ("paused", "paused") and not again.mappings[0].updated
    assert api.pause_text(app, again) == (
        "sitegen: paused -> paused\n"
        "  event source mapping sitegen-render <- sitegen-render: Disabled (unchanged)")
    resumed = api.resume(app)
    assert resumed.control == ("paused", "running") and mapping_state(render) == "Enabled"
    assert api.pause_text(app, resumed).splitlines()[1] == (
        "  event source mapping sitegen-render <- sitegen-render: Disabled -> Enabled")


def test_a_deploy_stops_the_mappings_and_a_users_pause_survives_its_finish(
    aws: Emulator, example_app: App
) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    account.put_parameter(CONTROL, "running")
    app = native(example_app, "render", "ingest")
    render = mapped_function(account, "render")
    switchover.begin(app, account, force_remove=False)
    assert control(account) == "deploying" and mapping_state(render) == "Disabled"
    switchover.restore(app, account)  # the deploy failed: its exit handler resumes
    assert control(account) == "running" and mapping_state(render) == "Enabled"
    switchover.begin(app, account, force_remove=False)
    report = switchover.finish(app, account)
    assert control(account) == "running" and mapping_state(render) == "Enabled"
    assert [(m.uuid, m.after) for m in report.mappings] == [(render, "Enabled")]

    switchover.begin(app, account, force_remove=False)
    api.pause(app)  # the user pauses during the deploy
    ingest = mapped_function(account, "ingest")  # the functions stack makes one, enabled
    switchover.finish(app, account)
    assert control(account) == "paused"
    assert mapping_state(render) == "Disabled" and mapping_state(ingest) == "Disabled"


def test_status_shows_each_native_components_mapping_and_batches_in_flight(
    aws: Emulator, example_app: App
) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)
    account.put_parameter(CONTROL, "running")
    app = native(example_app, "render")
    mapped_function(account, "render", enabled=False)
    url = account.queue_url("sitegen-render")
    assert url is not None
    for body in ("a", "b", "c"):
        account.sqs.send_message(QueueUrl=url, MessageBody=body)
    account.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    found = gather(app, account)
    rows = {c.name: c for c in found.components}
    assert (rows["render"].dispatch, rows["render"].mapping) == ("native", "Disabled")
    assert (rows["render"].queued, rows["render"].in_flight) == (1, 2)
    assert rows["ingest"].dispatch != "native" and rows["ingest"].mapping is None
    assert rows["publish"].dispatch is None and rows["publish"].in_flight is None
    data = found.to_dict()["components"][[c.name for c in found.components].index("render")]
    assert set(data) == {"name", "type", "queued", "in_flight", "dead_lettered", "limit",
                         "dispatch", "mapping"}
    text = format_text(found).splitlines()
    header = next(line for line in text if line.strip().startswith("component"))
    assert header.split()[-2:] == ["dispatch", "mapping"]
    assert next(line for line in text if line.strip().startswith("render")).split()[-2:] == [
        "native", "Disabled"]


def test_the_deployer_may_flip_only_the_apps_mappings(example_app: App) -> None:
    statements = {s["Sid"]: s for s in deployer_policy(example_app, "123456789012")["Statement"]}
    write = statements["EventSourceMappings"]
    assert set(write["Action"]) == {"lambda:UpdateEventSourceMapping",
                                    "lambda:DeleteEventSourceMapping"}
    assert write["Resource"] == ["arn:aws:lambda:eu-west-1:123456789012:event-source-mapping:*"]
    functions = write["Condition"]["ArnEquals"]["lambda:FunctionArn"]
    assert functions == statements["CreateEventSourceMappings"]["Condition"]["ArnEquals"][
        "lambda:FunctionArn"]
    assert "arn:aws:lambda:eu-west-1:123456789012:function:sitegen-render" in functions
    assert not any(f.endswith(("sitegen-publish", "sitegen-coordinator")) for f in functions)
    assert set(statements["EventSourceMappingReads"]["Action"]) == {
        "lambda:GetEventSourceMapping", "lambda:ListEventSourceMappings"}


UUID1, UUID2 = "5d1c1a6e-0000-4000-8000-000000000001", "5d1c1a6e-0000-4000-8000-000000000002"


class _BusyMapping(BaseHTTPRequestHandler):
    """UpdateEventSourceMapping as Lambda answers it while the mapping is in a transition
    (`busy` more times), then as it answers the update."""

    busy = 0
    calls: ClassVar[list[str]] = []

    def do_PUT(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.calls.append(self.path)
        type(self).busy -= 1
        if self.busy >= 0:
            status, headers = 400, {"x-amzn-ErrorType": "ResourceInUseException"}
            body = {"Type": "User", "message": "Cannot update the event source mapping because "
                    "it is in use."}
        else:
            status, headers = 202, {}
            body = {"UUID": self.path.rsplit("/", 1)[-1],
                    "State": "Enabling" if request["Enabled"] else "Disabling"}
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in {**headers, "Content-Type": "application/json",
                           "Content-Length": str(len(data))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Aws, type[_BusyMapping]]]:
    handler = type("Handler", (_BusyMapping,), {"calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(key, value)
    try:
        yield Aws("eu-west-1", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}"), handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_mapping_busy_in_a_transition_is_updated_after_short_pauses(
    busy_lambda: tuple[Aws, type[_BusyMapping]]
) -> None:
    account, handler = busy_lambda
    slept: list[float] = []
    handler.busy = 2
    assert account.set_mapping_enabled(UUID1, False, slept.append) == "Disabling"
    assert slept == [0.5, 1.0] and len(handler.calls) == 3
    handler.busy, slept[:] = 99, []
    with pytest.raises(UserError, match=rf"mapping {UUID2} is still busy "
                                        r"\(ResourceInUseException\) after 16 s: run the "
                                        "command again"):
        account.set_mapping_enabled(UUID2, True, slept.append)
    assert slept == [0.5, 1.0, 2.0, 4.0, 8.0]


class _Invokes(BaseHTTPRequestHandler):
    """Lambda's Invoke, recorded: (function, invocation type, payload)."""

    calls: ClassVar[list[tuple[str, str, object]]] = []

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        function = self.path.split("/functions/", 1)[1].split("/", 1)[0]
        self.calls.append((function, self.headers.get("X-Amz-Invocation-Type", ""), payload))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_schedule_tick_invokes_the_coordinator_with_the_schedule_event(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    handler = type("Handler", (_Invokes,), {"calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        account = Aws("eu-west-1", endpoint_url=f"http://127.0.0.1:{server.server_address[1]}")
        switchover.tick_schedule(account, TickSchedule("sitegen-coordinator"))
        assert handler.calls == [("sitegen-coordinator", "Event", dict(protocol.SCHEDULE_INPUT))]
    finally:
        server.shutdown()
        server.server_close()


def test_resume_ticks_the_schedule_and_a_refused_tick_is_a_warning(
    aws: Emulator, example_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    account = Aws(aws.region, endpoint_url=aws.endpoint_url)  # no coordinator function there
    account.put_parameter(CONTROL, "running")
    tick_refused = ("could not start sitegen-coordinator now (ResourceNotFoundException): its "
                    "schedule starts it within a minute")
    with caplog.at_level("WARNING"):
        pause.set_state(example_app, account, "paused")
    assert tick_refused not in caplog.text  # a pause starts nothing
    with caplog.at_level("WARNING"):
        pause.set_state(example_app, account, "running")
    assert control(account) == "running" and tick_refused in caplog.text
