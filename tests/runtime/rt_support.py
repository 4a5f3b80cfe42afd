"""Helpers for the runtime tests: real SQS/SSM in the moto server, a stand-in for the Lambda data
plane that records Invoke calls, and Lambda's context shape."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_complex.runtime import coordinator, names, protocol, wrapper
from lambda_complex.runtime.config import (
    EVENT_FROM_INVOCATION,
    EVENT_FROM_MESSAGE,
    ComponentConfig,
    CoordinatorConfig,
    Routing,
    RuntimeConfig,
)

APP = "t"


class FakeContext:
    """Lambda's context object: the attributes and method the wrapper uses."""

    def __init__(self, remaining_ms: int = 60_000, function: str = "t-a") -> None:
        self.deadline = time.monotonic() + remaining_ms / 1000
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function}"
        self.function_name = function

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def message_component(name: str, routing: Routing | None = None, **kw: Any) -> ComponentConfig:
    settings: dict[str, Any] = {
        "max_concurrency": 2,
        "timeout": 30,
        "batch_size": 10,
        "queue_wait_time": 0,
        "max_receive_count": 2,
        "visibility_timeout": 30,
        "handler": "h.handler",
    }
    settings.update(kw)
    return ComponentConfig(
        name=name, type=EVENT_FROM_MESSAGE, routing=routing or Routing(), **settings
    )


def invocation_component(name: str, routing: Routing | None = None, **kw: Any) -> ComponentConfig:
    settings: dict[str, Any] = {"max_concurrency": 2, "timeout": 30, "handler": "h.handler"}
    settings.update(kw)
    return ComponentConfig(
        name=name, type=EVENT_FROM_INVOCATION, routing=routing or Routing(), **settings
    )


@dataclass
class Runtime:
    """Test helper bound to one clean emulated account and one task root."""

    root: Path
    monkeypatch: pytest.MonkeyPatch
    sqs: Any = field(default_factory=lambda: boto3.client("sqs"))
    ssm: Any = field(default_factory=lambda: boto3.client("ssm"))

    def handler_module(self, code: str) -> str:
        """Write a handler module under a unique name; returns the module name."""
        module = f"h_{uuid.uuid4().hex[:12]}"
        (self.root / f"{module}.py").write_text(code)
        return module

    def use_config(self, config: RuntimeConfig) -> RuntimeConfig:
        path = self.root / f"config-{uuid.uuid4().hex[:8]}.json"
        path.write_text(config.to_json())
        self.monkeypatch.setenv("LAMBDA_COMPLEX_CONFIG", str(path))
        wrapper.reset()
        coordinator.reset()
        return config

    def create_queues(self, component: ComponentConfig, visibility: int = 30) -> str:
        """Input queue with redrive to its DLQ, the DLQ, the lease queue (what the stacks make)."""
        dlq = self.sqs.create_queue(QueueName=names.dead_letter_queue_name(APP, component.name))
        dlq_arn = self.sqs.get_queue_attributes(
            QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sqs.create_queue(QueueName=names.inflight_queue_name(APP, component.name))
        if component.type != EVENT_FROM_MESSAGE:
            return ""
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": component.max_receive_count}
        url: str = self.sqs.create_queue(
            QueueName=names.queue_name(APP, component.name),
            Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        return url

    def url(self, queue_name: str) -> str:
        return str(self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"])

    def send(self, component: str, data: Any, raw: str | None = None) -> str:
        body = raw if raw is not None else protocol.new_envelope(data).to_json()
        url = self.url(names.queue_name(APP, component))
        return str(self.sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"])

    def depth(self, queue_name: str) -> tuple[int, int]:
        """(visible, not visible) messages."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url(queue_name),
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def total(self, queue_name: str) -> int:
        return sum(self.depth(queue_name))

    def drain(self, queue_name: str) -> list[dict[str, Any]]:
        """Receive (and delete) every visible message."""
        url = self.url(queue_name)
        out: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return out
            out.extend(batch)
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
                ],
            )


@dataclass
class Invoke:
    function: str
    invocation_type: str
    payload: Any


class LambdaStub:
    """Stand-in for the Lambda data plane (Invoke only): records calls, answers 202, or 429 for
    functions listed in `throttled` (Lambda's TooManyRequestsException)."""

    def __init__(self) -> None:
        self.calls: list[Invoke] = []
        self.throttled: set[str] = set()
        self.lock = threading.Lock()
        self.delay = 0.0  # seconds per request, to observe how many run at once
        self.active = 0
        self.max_active = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = self.path.split("/")
                # /2015-03-31/functions/<name>/invocations
                function = parts[3] if len(parts) > 4 else ""
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length) if length else b""
                with stub.lock:
                    stub.active += 1
                    stub.max_active = max(stub.max_active, stub.active)
                time.sleep(stub.delay)
                with stub.lock:
                    stub.active -= 1
                if function in stub.throttled:
                    body = json.dumps({"message": "Rate exceeded", "Type": "User"}).encode()
                    self.send_response(429)
                    self.send_header("x-amzn-ErrorType", "TooManyRequestsException")
                else:
                    with stub.lock:
                        stub.calls.append(
                            Invoke(
                                function,
                                self.headers.get("X-Amz-Invocation-Type", ""),
                                json.loads(raw) if raw else None,
                            )
                        )
                    body = b""
                    self.send_response(202)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def functions(self) -> list[str]:
        with self.lock:
            return [c.function for c in self.calls]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def config(component: str, *components: ComponentConfig, **kw: Any) -> RuntimeConfig:
    return RuntimeConfig(
        app=APP,
        version="1",
        component=component,
        components={c.name: c for c in components},
        coordinator=kw.pop("coordinator", CoordinatorConfig()),
        **kw,
    )
