"""The wire protocol's written contract (`protocol.schema.json`) against the code: the messages the
runtime really writes validate, and every field and value the code knows is in the schema (and
nothing more), so neither can change without the other."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from rt_support import APP, FakeContext, LambdaStub, Runtime, config, invocation_component
from rt_support import message_component as mc

from lambda_complex.builder.local.lambda_service import event_sources
from lambda_complex.builder.local.run import invoke_once
from lambda_complex.runtime import coordinator, delivery, names, protocol, wrapper
from lambda_complex.runtime.config import NATIVE, CoordinatorConfig, Routing
from lambda_complex.runtime.routing import Target

SCHEMA_PATH = Path(protocol.__file__).with_name(protocol.SCHEMA_FILE_NAME)
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())


def validate(definition: str, instance: Any) -> None:
    jsonschema.Draft7Validator(
        {**SCHEMA, "$ref": f"#/definitions/{definition}"}
    ).validate(instance)


# Per message: its type in `protocol`, and the properties written by something other than the
# type's own fields (the version, the line's event name, the log's timestamp).
TYPES: dict[str, tuple[Any, set[str]]] = {
    "envelope": (protocol.Envelope, {"lc"}),
    "nudge": (protocol.Nudge, set()),
    "chain_event": (protocol.ChainEvent, set()),
    "invoker_event": (protocol.InvokerEvent, set()),
    "message_line": (protocol.MessageLine, {"ts", "event", "lc"}),
    "route_line": (protocol.RouteLine, {"ts", "event"}),
}


def disagreements(schema: dict[str, Any]) -> list[str]:
    """Where the schema and the code differ (empty when they agree)."""
    found: list[str] = []
    definitions = schema["definitions"]
    for name, (kind, extra) in TYPES.items():
        properties = set(definitions[name]["properties"])
        fields = set(kind._fields) | extra
        found += [f"{name}: field {f!r} is not in the schema" for f in sorted(fields - properties)]
        found += [f"{name}: schema property {p!r} is not in the code"
                  for p in sorted(properties - fields)]
        missing = set(definitions[name]["required"]) - properties
        found += [f"{name}: required {r!r} is no property" for r in sorted(missing)]
    enums = {
        ("message_line", "outcome"): {str(o) for o in protocol.Outcome},
        ("route_line", "kind"): {str(k) for k in protocol.RouteKind},
        ("nudge", "source"): set(protocol.NUDGE_SOURCES),
        ("schedule_input", "source"): {protocol.SCHEDULE_SOURCE},
    }
    for (name, prop), values in enums.items():
        written = set(definitions[name]["properties"][prop]["enum"])
        if written != values:
            found.append(f"{name}.{prop}: schema says {sorted(written)}, code {sorted(values)}")
    records = definitions["sqs_event"]["properties"][protocol.RECORDS_KEY]["items"]
    if set(records["properties"]["eventSource"]["enum"]) != {protocol.SQS_EVENT_SOURCE}:
        found.append(f"sqs_event.eventSource: the code reads {protocol.SQS_EVENT_SOURCE!r}")
    count = records["properties"]["attributes"]["properties"]
    if set(count) != {protocol.RECEIVE_COUNT_ATTRIBUTE}:
        found.append(f"sqs_event.attributes: the code reads {protocol.RECEIVE_COUNT_ATTRIBUTE!r}")
    response = definitions["batch_response"]["properties"]
    failures = response.get(protocol.BATCH_ITEM_FAILURES_KEY, {}).get("items", {})
    if (set(response) != {protocol.BATCH_ITEM_FAILURES_KEY}
            or set(failures.get("properties", {})) != {protocol.ITEM_IDENTIFIER_KEY}):
        found.append(f"batch_response: the code writes {protocol.batch_response(['m'])}")
    if definitions["version"]["enum"] != [protocol.PROTOCOL_VERSION]:
        found.append(f"version: schema says {definitions['version']['enum']}, "
                     f"code {protocol.PROTOCOL_VERSION}")
    attributes = set(protocol.dead_letter_attributes("r", "c", "i"))
    if attributes != set(definitions["dead_letter_attributes"]["properties"]):
        found.append(f"dead_letter_attributes: code writes {sorted(attributes)}")
    return found


def test_the_schema_is_valid_and_agrees_with_the_code() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert disagreements(SCHEMA) == []


@pytest.mark.parametrize(("definition", "change"), [
    ("message_line", lambda d: d["properties"].pop("handler_called")),
    ("envelope", lambda d: d["properties"].update(priority={"type": "integer"})),
    ("message_line", lambda d: d["properties"]["outcome"]["enum"].remove("released")),
    ("sqs_event", lambda d: d["properties"]["Records"]["items"]["properties"]["eventSource"]
     .update(enum=["aws:sns"])),
    ("batch_response", lambda d: d["properties"]["batchItemFailures"]["items"]
     .update(properties={"messageId": {"type": "string"}})),
])
def test_a_schema_that_drifts_from_the_code_is_caught(definition: str, change: Any) -> None:
    drifted = copy.deepcopy(SCHEMA)
    change(drifted["definitions"][definition])
    assert any(problem.startswith(definition) for problem in disagreements(drifted))


def test_the_schema_ships_beside_the_module() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "runtime/pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["lambda_complex.runtime"]
    assert protocol.SCHEMA_FILE_NAME in shipped


def test_an_envelope_that_delivery_prepares_validates() -> None:
    cfg = config("a", mc("a", Routing(components=("b", "p"))), mc("b"), invocation_component("p"))
    out = delivery.prepare("m1", protocol.new_envelope({"n": 1}), [Target("b", {"n": 2}),
                                                                  Target("p", [1, None])], cfg)
    for item in out:
        validate("envelope", json.loads(item.body))
    with pytest.raises(jsonschema.ValidationError):  # the validator does reject
        validate("envelope", {"lc": 1, "trace_id": "", "hops": 0, "source": "a", "data": 1})


def test_an_envelope_of_an_unknown_version_is_refused_naming_it() -> None:
    body = json.dumps({**protocol.new_envelope(1).to_dict(), "lc": 2})
    with pytest.raises(protocol.EnvelopeError, match="'lc' is 2, not a protocol version"):
        protocol.parse_envelope(body)


def lines(text: str, event: str) -> list[dict[str, Any]]:
    records = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    return [r for r in records if r.get("event") == event]


HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return event
"""


def test_the_wrapper_writes_message_lines_of_the_schema(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    module = rt.handler_module(HANDLER)
    a = mc("a", Routing(components=("b",)), handler=f"{module}.handler", max_receive_count=5)
    rt.use_config(config("a", a, mc("b")))
    rt.create_queues(a)
    rt.create_queues(mc("b"))
    rt.send("a", {"n": 1})
    rt.send("a", {"fail": True})
    rt.send("a", None, raw="[1]")
    capsys.readouterr()
    wrapper.handler(protocol.Nudge().to_dict(), FakeContext())
    written = lines(capsys.readouterr().out, protocol.MESSAGE_EVENT)
    assert sorted(x["outcome"] for x in written) == ["dead_lettered", "failed", "succeeded"]
    for line in written:
        validate("message_line", line)
        assert protocol.reads_message_line(line)
    [dead] = rt.drain(names.dead_letter_queue_name(APP, "a"))
    attributes = {k: {"DataType": v["DataType"], "StringValue": v["StringValue"]}
                  for k, v in dead["MessageAttributes"].items()}
    validate("dead_letter_attributes", attributes)


def test_an_sqs_event_and_the_wrappers_batch_response_are_of_the_schema(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    module = rt.handler_module(HANDLER)
    a = mc("a", handler=f"{module}.handler", dispatch=NATIVE, max_receive_count=5)
    rt.use_config(config("a", a))
    url = rt.create_queues(a)
    rt.send("a", {"n": 1})
    rt.send("a", {"fail": True})
    messages: list[Any] = []
    while len(messages) < 2:  # received as the local pollers receive them
        messages += rt.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=2, MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"]).get("Messages", [])
    arn = rt.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    event = event_sources.sqs_event(messages, arn["Attributes"]["QueueArn"])
    validate("sqs_event", event)
    assert protocol.is_sqs_event(event)
    response = wrapper.handler(event, FakeContext())
    validate("batch_response", response)
    assert len(response["batchItemFailures"]) == 1  # the failure comes back
    for line in lines(capsys.readouterr().out, protocol.MESSAGE_EVENT):
        validate("message_line", line)
    # What the schema refuses is no SQS event to the wrapper either.
    record = event["Records"][0]
    for refused in ({"Records": []}, {"Records": [{**record, "eventSource": "aws:sns"}]},
                    {"Records": [{k: v for k, v in record.items() if k != "messageId"}]}):
        with pytest.raises(jsonschema.ValidationError):
            validate("sqs_event", refused)
        assert not protocol.is_sqs_event(refused)


def test_dry_routing_writes_route_lines_of_the_schema(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    module = rt.handler_module(HANDLER)
    p = invocation_component("p", Routing(components=("b", "q")), handler=f"{module}.handler")
    rt.use_config(config("p", p, mc("b"), invocation_component("q")))
    rt.monkeypatch.setenv(delivery.DRY_ROUTING_ENV, "1")
    event = invoke_once.local_event({"n": 1})
    validate("local_invoke_event", event)
    capsys.readouterr()
    wrapper.handler(event, FakeContext())
    out = capsys.readouterr().out
    routes = lines(out, protocol.ROUTE_EVENT)
    assert sorted(r["kind"] for r in routes) == ["invocation", "queue"]
    for route in routes:
        validate("route_line", route)
    for line in lines(out, protocol.MESSAGE_EVENT):
        validate("message_line", line)


def test_the_coordinator_sends_nudges_invoker_and_chain_events_of_the_schema(
    rt: Runtime, lambda_stub: LambdaStub
) -> None:
    cfg = config("coordinator", mc("a", max_concurrency=5, batch_size=1),
                 coordinator=CoordinatorConfig(concurrency=1, min_interval=0, max_invocations=2))
    rt.use_config(cfg)
    rt.create_queues(cfg.components["a"])
    for _ in range(3):  # 3 invocations, 2 calls at most: one nudge and one child invoker
        rt.send("a", {"n": 1})
    chain = protocol.ChainEvent(0, 1, "L1").to_dict()
    validate("chain_event", chain)
    coordinator.handler(chain, FakeContext(function="t-coordinator"))
    by_function: dict[str, list[Any]] = {}
    for call in lambda_stub.calls:
        by_function.setdefault(call.function, []).append(call.payload)
    definition = {"t-a": "nudge", "t-invoker": "invoker_event", "t-coordinator": "chain_event"}
    assert set(by_function) == set(definition)  # every kind was sent
    for function, payloads in by_function.items():
        for payload in payloads:
            validate(definition[function], payload)
    assert any("lease" in p for p in by_function["t-a"])


def test_the_schedule_input_is_the_schedule_to_the_coordinator() -> None:
    validate("schedule_input", dict(protocol.SCHEDULE_INPUT))
    assert not protocol.is_chain_event(dict(protocol.SCHEDULE_INPUT))


def test_log_readers_skip_lines_of_a_version_they_do_not_read() -> None:
    line = protocol.MessageLine("a", "t", "m", protocol.Outcome.SUCCEEDED, 1.0).to_dict()
    assert protocol.reads_message_line(line)
    assert protocol.reads_message_line({k: v for k, v in line.items() if k != "lc"})
    assert not protocol.reads_message_line({**line, "lc": 2})
