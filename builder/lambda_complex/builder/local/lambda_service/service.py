"""The local Lambda service: Lambda's data plane (`Invoke`) on 127.0.0.1 for the real boto3 client
(`AWS_ENDPOINT_URL_LAMBDA`), running each function in warm instances (processes or containers)
that speak the Runtime API to us. Every other Lambda call is passed through to the emulator.

Here: the HTTP front end (Lambda's status codes, headers and error shapes), the function table,
the instance environment and the on-failure destination (SQS). Concurrency, queueing and retries
are each function's pool (`pool.py`); one execution on one instance is `instances.py`.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal

from lambda_complex.builder.local.aws import identities
from lambda_complex.builder.local.lambda_service import loop_detection
from lambda_complex.builder.local.lambda_service.destinations import Destinations
from lambda_complex.builder.local.lambda_service.functions import (
    FunctionDefinition,
    function_name_from,
)
from lambda_complex.builder.local.lambda_service.instances import Launcher
from lambda_complex.builder.local.lambda_service.pool import FunctionPool
from lambda_complex.builder.local.lambda_service.runtime_api import (
    Invocation,
    QuietServer,
    write_response,
)

log = logging.getLogger(__name__)

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024  # 256 KiB until Lambda raised it in 2025
INIT_TIMEOUT = 10.0  # Lambda's init phase limit for on-demand functions
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")

Response = tuple[int, bytes, dict[str, str]]


def _aws_error(status: int, error_type: str, message: str, **extra: str) -> Response:
    body = json.dumps({"Type": "User", "message": message, **extra}).encode()
    return status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}


class LambdaService:
    """Start with `start()` (or as a context manager), point boto3 at `url`, read `stats()`."""

    def __init__(
        self,
        functions: Iterable[FunctionDefinition],
        launcher: Launcher,
        log_dir: Path,
        aws_env: Mapping[str, str] | None = None,
        *,
        port: int = 0,
        retry_delays: Sequence[float] = (1.0, 2.0),  # Lambda waits 1 then 2 minutes
        idle_timeout: float = 300.0,
        default_concurrency: int = 50,  # cap of unreserved functions (the account pool, locally)
        init_timeout: float = INIT_TIMEOUT,
        upstream: str | None = None,  # where other Lambda API calls go; default: the emulator
        credentials: identities.RoleCredentials | None = None,  # IAM enforced: the roles'
        authorizer: str | None = None,  # IAM enforced: the emulator that authorizes Invoke
    ) -> None:
        self.launcher = launcher
        self.log_dir = Path(log_dir)
        self.aws_env = dict(aws_env or {})
        self.retry_delays = tuple(retry_delays) or (0.0,)
        self.idle_timeout = idle_timeout
        self.default_concurrency = default_concurrency
        self.init_timeout = init_timeout
        self.upstream = upstream or self.aws_env.get("AWS_ENDPOINT_URL")
        self.credentials, self.authorizer = credentials, authorizer
        self._server = _InvokeServer(("127.0.0.1", port), _InvokeHandler)
        self._server.service = self
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._destinations = Destinations(self.aws_env)
        self._stopped = threading.Event()
        for fn in functions:
            self.add_function(fn)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LambdaService:
        threading.Thread(target=self._server.serve_forever, args=(0.2,), daemon=True).start()
        threading.Thread(target=self._reaper, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        # shutdown() waits for the serve loop's next poll: do not make the caller wait for it.
        threading.Thread(target=self._shutdown_server, daemon=True).start()
        with self._lock:
            pools = list(self._pools.values())
        for pool in pools:
            pool.close()

    def _shutdown_server(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LambdaService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_function(self, fn: FunctionDefinition) -> None:
        """Define a function, or redefine it (a redeploy: see FunctionPool.redefine)."""
        with self._lock:
            pool = self._pools.get(fn.name)
            if pool is None:
                self._pools[fn.name] = FunctionPool(fn, self)
                return
        pool.redefine(fn)

    def pool(self, name: str) -> FunctionPool | None:
        with self._lock:
            return self._pools.get(function_name_from(name))

    def kill_running(self, name: str) -> int:
        """Kill every instance of `name` that is running an execution; how many were killed."""
        pool = self.pool(name)
        return pool.kill_busy() if pool is not None else 0

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            pools = dict(self._pools)
        return {name: pool.snapshot() for name, pool in sorted(pools.items())}

    def is_idle(self) -> bool:
        """Nothing running, queued or waiting for a retry, in any function."""
        with self._lock:
            pools = list(self._pools.values())
        return all(p.is_idle() for p in pools)

    def wait_idle(self, timeout: float, interval: float = 0.05) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_idle():
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    def instance_environment(self, fn: FunctionDefinition, instance: str) -> dict[str, str]:
        """What Lambda puts in a function's environment, pointing AWS clients at the emulator
        and Lambda calls back at this service. Reserved Lambda variables win over the function's."""
        log_format = {"AWS_LAMBDA_LOG_FORMAT": fn.log_format} if fn.log_format else {}
        return {
            **self.aws_env,
            **fn.environment,
            **log_format,
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_LAMBDA_FUNCTION_NAME": fn.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": instance,
            "_HANDLER": fn.handler,
            "AWS_ENDPOINT_URL_LAMBDA": self.url,
            **self._role_credentials(fn).environment,
        }

    def _role_credentials(self, fn: FunctionDefinition) -> identities.Issued:
        if self.credentials is None or fn.role is None:
            return identities.Issued({}, float("inf"))
        return self.credentials.for_role(fn.role, fn.name)

    def credentials_renew_at(self, fn: FunctionDefinition) -> float:
        return self._role_credentials(fn).renew_at

    def authorize_invoke(self, name: str, path: str, headers: Mapping[str, str], body: bytes
                         ) -> Response | None:
        """With IAM enforced, AccessDeniedException unless the caller may invoke `name`."""
        pool = self.pool(name)
        if self.authorizer is None or pool is None:
            return None
        denied = identities.authorize(self.authorizer, "POST", path, headers, body, pool.fn.arn)
        return None if denied is None else _aws_error(403, "AccessDeniedException", denied)

    # Invoke, shared by the HTTP front end and in-process callers (schedules, the orchestrator).
    def invoke(
        self,
        name: str,
        payload: bytes = b"",
        invocation_type: Literal["RequestResponse", "Event", "DryRun"] | str = "RequestResponse",
        client_context: str | None = None,
        tail: bool = False,
        trace_header: str | None = None,  # the caller's X-Amzn-Trace-Id
    ) -> Response:
        """Returns (HTTP status, body, headers) exactly as the Invoke API answers."""
        pool = self.pool(name)
        if pool is None:
            return _aws_error(
                404, "ResourceNotFoundException", f"Function not found: {function_name_from(name)}"
            )
        if invocation_type == "DryRun":
            return 204, b"", {}
        payload = payload or b"{}"
        try:
            json.loads(payload)
        except ValueError as e:
            return _aws_error(
                400,
                "InvalidRequestContentException",
                f"Could not parse request body into json: {e}",
            )
        trace, count = loop_detection.descend(trace_header, pool.fn.name)
        stopped = loop_detection.stops(count, pool.fn.recursive_loop)
        if invocation_type == "Event":
            if len(payload) > MAX_ASYNC_PAYLOAD:
                return _too_large(MAX_ASYNC_PAYLOAD)
            if stopped:
                request_id = pool.stop_recursive(payload, loop_detection.message(pool.fn.name))
                return 202, b"", {"x-amzn-RequestId": request_id}
            request_id = pool.submit_async(payload, trace)
            return 202, b"", {"x-amzn-RequestId": request_id}
        if invocation_type != "RequestResponse":
            return _aws_error(
                400, "InvalidParameterValueException", f"Unknown invocation type {invocation_type}"
            )
        if len(payload) > MAX_SYNC_PAYLOAD:
            return _too_large(MAX_SYNC_PAYLOAD)
        if stopped:
            pool.stop_recursive(payload, loop_detection.message(pool.fn.name), event=False)
            return _aws_error(400, loop_detection.STOPPED, loop_detection.message(pool.fn.name))
        if not pool.try_acquire():
            return _aws_error(
                429,
                "TooManyRequestsException",
                "Rate Exceeded.",
                Reason="ReservedFunctionConcurrentInvocationLimitExceeded",
            )
        request_id = str(uuid.uuid4())
        try:
            inv, log_tail = pool.execute(request_id, payload, client_context, trace)
        finally:
            pool.release()
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Executed-Version": "$LATEST",
            "x-amzn-RequestId": request_id,
        }
        if inv.error_type is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if tail:
            headers["X-Amz-Log-Result"] = base64.b64encode(log_tail).decode()
        return 200, inv.result, headers

    def invoke_async(self, name: str, payload: Any) -> str | None:
        """Queue an `Event` invocation of a JSON-able payload; the request id, None if unknown."""
        status, _, headers = self.invoke(name, json.dumps(payload).encode(), "Event")
        return headers.get("x-amzn-RequestId") if status == 202 else None

    # The on-failure destination.
    def send_to_destination(
        self,
        fn: FunctionDefinition,
        request_id: str,
        payload: bytes,
        inv: Invocation,
        attempts: int,
    ) -> bool:
        return self._destinations.send(fn, request_id, payload, inv, attempts)

    def _reaper(self) -> None:
        while not self._stopped.wait(min(1.0, self.idle_timeout / 2)):
            with self._lock:
                pools = list(self._pools.values())
            for pool in pools:
                pool.reap_idle(self.idle_timeout)

    def proxy(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Response:
        """Pass a non-Invoke Lambda call to the emulator (GetFunction, concurrency, ...)."""
        if not self.upstream:
            return _aws_error(404, "UnknownOperationException", "Unknown operation")
        target = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.netloc, timeout=30)
        try:
            # Host too: it is signed, and the emulator checks signatures when IAM is enforced.
            forwarded = {k: v for k, v in headers.items() if k.lower() != "connection"}
            conn.request(method, path, body=body or None, headers=forwarded)
            answer = conn.getresponse()
            data = answer.read()
            kept = {
                k: v
                for k, v in answer.getheaders()
                if k.lower()
                not in ("content-length", "connection", "transfer-encoding", "date", "server")
            }
            return answer.status, data, kept
        finally:
            conn.close()


def _too_large(limit: int) -> Response:
    return _aws_error(
        413,
        "RequestTooLargeException",
        f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
    )


class _InvokeServer(QuietServer):
    service: LambdaService


class _InvokeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _InvokeServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, response: Response) -> None:
        status, body, headers = response
        write_response(self, status, body, headers)

    def do_POST(self) -> None:
        body = self._body()
        path = urllib.parse.urlsplit(self.path).path
        match = _INVOKE_PATH.match(path)
        if match is None:
            self._reply(self.server.service.proxy("POST", self.path, dict(self.headers), body))
            return
        context = self.headers.get("X-Amz-Client-Context")
        name = urllib.parse.unquote(match.group(1))
        service = self.server.service
        self._reply(
            service.authorize_invoke(name, self.path, dict(self.headers), body)
            or service.invoke(
                name,
                body,
                self.headers.get("X-Amz-Invocation-Type") or "RequestResponse",
                base64.b64decode(context).decode() if context else None,
                tail=self.headers.get("X-Amz-Log-Type") == "Tail",
                trace_header=self.headers.get(loop_detection.TRACE_HEADER),
            )
        )

    def _pass_through(self) -> None:
        body = self._body()
        self._reply(self.server.service.proxy(self.command, self.path, dict(self.headers), body))

    do_GET = do_PUT = do_DELETE = do_PATCH = _pass_through


def start_service(
    functions: Iterable[FunctionDefinition],
    mode: Literal["process", "container"],
    log_dir: Path,
    aws_env: Mapping[str, str] | None = None,
    **options: Any,
) -> LambdaService:
    """The orchestrator's entry point: a running service with the launcher of `mode`."""
    launcher: Launcher
    functions = list(functions)
    if mode == "process":
        from lambda_complex.builder.local.lambda_service.workers import ProcessLauncher

        process_launcher = ProcessLauncher()
        process_launcher.prepare(functions, log_dir)  # requirements installed before any start
        launcher = process_launcher
    else:
        from lambda_complex.builder.local.lambda_service.containers import ContainerLauncher

        launcher = ContainerLauncher()
    return LambdaService(functions, launcher, log_dir, aws_env, **options).start()
