"""What `lcbuild redrive` invokes again for an invocation component's dead letter (pure); the
command itself runs against a local run in tests/local/test_local_run.py."""

from __future__ import annotations

import json

from lambda_complex.builder.deploy.redrive import invocation_payload


def test_the_event_of_a_lambda_on_failure_record() -> None:
    record = {
        "version": "1.0",
        "requestContext": {"requestId": "r1", "condition": "RetriesExhausted"},
        "requestPayload": {"trace_id": "t", "hops": 1, "data": {"to": "ops"}},
        "responsePayload": {"errorMessage": "notify is broken"},
    }
    assert json.loads(invocation_payload(json.dumps(record))) == record["requestPayload"]


def test_the_wrappers_own_dead_letter_is_the_event_itself() -> None:
    assert invocation_payload('{"requestPayload": 1}') == b'{"requestPayload": 1}'
    assert invocation_payload("not json at all") == b"not json at all"
