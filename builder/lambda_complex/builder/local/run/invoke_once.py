"""`lcbuild local invoke`: one component, one input, once: no deploy, no emulator.

The component runs as it would in `lcbuild local run` (its built image in a container, or the real
runtime interface client in a worker process) behind the local Lambda service's Runtime API, with
dry routing on (`delivery.DRY_ROUTING_ENV`): each would-be send is logged as a route line, not
made. The input reaches the wrapper as its direct local event (`protocol.local_invoke_event`), so
a message component handles it as one queue message instead of polling a queue.

AWS is out of reach on purpose: AWS clients point at a closed loopback port and carry dummy
credentials, so a handler that calls AWS fails at once, and nothing leaves this machine.
`send_results` then sends the routed results on, as the wrapper would, to the targets of a
running `lcbuild local run` (`lcbuild local invoke --send-results`).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local.lambda_service import functions
from lambda_complex.builder.local.lambda_service.instances import Launcher
from lambda_complex.builder.local.lambda_service.service import LambdaService
from lambda_complex.runtime import delivery, names, protocol
from lambda_complex.runtime.protocol import MESSAGE_EVENT, ROUTE_EVENT, RouteKind

if TYPE_CHECKING:
    from lambda_complex.builder.app.model import App
    from lambda_complex.builder.deploy.aws import Aws

# Port 9 (discard) on loopback: nothing listens, so an AWS call is refused at once, locally.
NO_AWS_ENDPOINT = "http://127.0.0.1:9"
NO_AWS_ENV = {
    "AWS_ENDPOINT_URL": NO_AWS_ENDPOINT,
    "AWS_ACCESS_KEY_ID": "local-invoke",
    "AWS_SECRET_ACCESS_KEY": "local-invoke",
    "AWS_EC2_METADATA_DISABLED": "true",  # no credential lookup on the network either
}
# A container copies its output into the log a moment after the answer; wait this long at most.
LOG_SETTLE_S = 2.0


@dataclass(frozen=True)
class Route:
    target: str
    kind: str  # a protocol.RouteKind
    body: str  # the envelope it would carry
    sent: bool = False  # sent on to a running local run (`send_results`)

    @property
    def data(self) -> Any:
        """The routed result; for the dead-letter queue, the input as received."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return self.body
        if self.kind == RouteKind.DEAD_LETTER or not isinstance(value, dict):
            return value
        return value.get("data")


@dataclass(frozen=True)
class Outcome:
    component: str
    ok: bool
    outcome: str  # the wrapper's: succeeded, diverted, failed, dead_lettered; or the Lambda error
    result: Any = None
    error: dict[str, Any] | None = None  # Lambda's error answer (errorType, errorMessage, ...)
    reason: str | None = None
    routes: list[Route] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "ok": self.ok,
            "outcome": self.outcome,
            "result": self.result,
            "error": self.error,
            "reason": self.reason,
            "routes": [{"target": r.target, "kind": r.kind, "data": r.data, "sent": r.sent}
                       for r in self.routes],
            "logs": self.logs,
            "duration_ms": round(self.duration_ms, 1),
        }


def local_event(event: Any) -> dict[str, Any]:
    """The wrapper's direct local event for one input. Like `lcbuild local run --send`, input
    from outside gets a fresh envelope, unless it already claims to be one (`lc` key), which the
    wrapper then checks as it checks a queue message or an invocation payload."""
    if isinstance(event, dict) and protocol.VERSION_KEY in event:
        body = json.dumps(event)
    else:
        body = protocol.new_envelope(event).to_json()
    return protocol.local_invoke_event(body)


def function_for(app: App, component: str, images: dict[str, str] | None = None
                 ) -> functions.FunctionDefinition:
    """The component's function as `lcbuild local run` defines it, with dry routing on."""
    if component not in app.component_names:
        known = ", ".join(app.component_names)
        raise UserError(f"no component {component!r} in {app.name} (components: {known})")
    name = names.function_name(app.name, component)
    fn = next(f for f in functions.from_app(app, images=images) if f.name == name)
    return replace(fn, environment={**fn.environment, delivery.DRY_ROUTING_ENV: "1"})


def container_image(app: App, component: str) -> str:
    """The component's built image from the build manifest, as `lcbuild local run` uses it."""
    from lambda_complex.builder.images import manifest

    path = manifest.path_for(app.root)
    image = functions.local_images(manifest.read(path)).get(component)
    if image is None:
        raise UserError(f"{path}: no built image for {component!r}: run `lcbuild images` first "
                        "(or use --mode process)")
    return image


def run(fn: functions.FunctionDefinition, component: str, event: Any, launcher: Launcher,
        log_dir: Path | None = None) -> Outcome:
    """Invoke `fn` once with `event` on a private local Lambda service; stop it; say what
    happened. `log_dir` keeps the instance log (default: a temporary folder, removed)."""
    payload = json.dumps(local_event(event)).encode()
    with tempfile.TemporaryDirectory(prefix="lc-invoke-") as scratch:
        logs_root = log_dir or Path(scratch)
        prepare = getattr(launcher, "prepare", None)
        if prepare is not None:  # process mode: install requirements before the init clock runs
            prepare([fn], logs_root)
        started = time.monotonic()
        with LambdaService([fn], launcher, logs_root, NO_AWS_ENV, upstream=NO_AWS_ENDPOINT,
                           retry_delays=(0.0,)) as service:
            status, body, headers = service.invoke(fn.name, payload)
            duration = (time.monotonic() - started) * 1000
            if status != 200:
                raise UserError(f"the local Lambda service refused the event for {component!r}: "
                                f"{body.decode('utf-8', 'replace')}")
            log_files = sorted((logs_root / fn.name).glob("*.log"))
            _wait_for_outcome_line(log_files, LOG_SETTLE_S)
        text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in log_files)
    return outcome_of(component, body, "X-Amz-Function-Error" in headers, text.splitlines(),
                      duration)


def send_results(aws: Aws, app_name: str, outcome: Outcome) -> Outcome:
    """Send each routed result to its target through `aws` (a running local run's endpoints),
    as the wrapper would: a queue target's queue gets the envelope (SendMessage), an invocation
    target an asynchronous Invoke. Dead letters stay here: the wrapper sends them with their
    reason as message attributes, which a route line does not carry. A failed send is a
    UserError naming the target."""
    routes: list[Route] = []
    for route in outcome.routes:
        try:
            if route.kind == RouteKind.QUEUE:
                queue = names.queue_name(app_name, route.target)
                url = aws.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
                aws.sqs.send_message(QueueUrl=url, MessageBody=route.body)
            elif route.kind == RouteKind.INVOCATION:
                function = names.function_name(app_name, route.target)
                if not aws.invoke_event(function, route.body.encode("utf-8")):
                    raise RuntimeError(f"Invoke of {function} was not accepted")
            else:
                routes.append(route)
                continue
        except Exception as e:
            raise UserError(f"sending the result for {route.target!r} to the running local run "
                            f"failed: {e}") from None
        routes.append(replace(route, sent=True))
    return replace(outcome, routes=routes)


def _wait_for_outcome_line(paths: Iterable[Path], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    marker = f'"event":"{MESSAGE_EVENT}"'
    while time.monotonic() < deadline:
        if any(marker in p.read_text(encoding="utf-8", errors="replace") for p in paths):
            return
        time.sleep(0.02)


def _json_line(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def outcome_of(component: str, answer: bytes, function_error: bool, lines: list[str],
               duration_ms: float = 0.0) -> Outcome:
    """What one invocation did, from Lambda's answer and the instance's log lines (pure)."""
    routes: list[Route] = []
    logs: list[str] = []
    reason: str | None = None
    recorded: str | None = None
    for line in lines:
        record = _json_line(line)
        if record is not None and record.get("event") == ROUTE_EVENT:
            routes.append(Route(str(record.get("target")), str(record.get("kind")),
                                str(record.get("body"))))
            continue
        if record is not None and protocol.reads_message_line(record):
            recorded, reason = record.get("outcome"), record.get("reason")
        logs.append(line)
    try:
        value = json.loads(answer or b"null")
    except ValueError:
        value = answer.decode("utf-8", "replace")
    if function_error:
        error = value if isinstance(value, dict) else {"errorMessage": str(value)}
        return Outcome(component, False, recorded or str(error.get("errorType", "error")),
                       error=error, reason=reason, routes=routes, logs=logs,
                       duration_ms=duration_ms)
    answered = value if isinstance(value, dict) else {}
    succeeded = protocol.Outcome.SUCCEEDED
    outcome = recorded or (succeeded if answered.get("succeeded") else "unknown")
    # A handler error is a failure here even when a routing function diverted it onwards.
    return Outcome(component, outcome == succeeded, outcome,
                   result=answered.get("result"), reason=reason, routes=routes, logs=logs,
                   duration_ms=duration_ms)

