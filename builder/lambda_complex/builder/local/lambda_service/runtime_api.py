"""The Lambda Runtime API, as a runtime interface client (awslambdaric) inside an instance sees it.

One small server per warm instance, on its own loopback port: `AWS_LAMBDA_RUNTIME_API` is a bare
`host:port` (the client builds every URL from it), so a port is the only per-instance address it
can be given. The server hands out one invocation at a time, like Lambda's.

Every response goes out in one write (status line, headers and body together): written in pieces,
Nagle's algorithm and delayed ACKs stall each invoke by ~90 ms.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
_INVOCATION_PATH = re.compile(rf"^{PREFIX}/invocation/([^/]+)/(response|error)$")
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


@dataclass
class Invocation:
    """One execution on one instance. `done` is set once the instance answered (or was lost)."""

    request_id: str
    payload: bytes
    function_arn: str
    timeout: float
    trace_id: str = ""
    client_context: str | None = None
    fetched: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    fetched_at: float = 0.0  # time.monotonic() when the instance took it: the timeout starts here
    result: bytes = b""
    error_type: str | None = None  # set when the execution failed (function error, timeout, crash)

    def finish(self, result: bytes, error_type: str | None = None) -> None:
        if not self.done.is_set():
            self.result, self.error_type = result, error_type
            self.done.set()


def write_response(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    """Send a whole HTTP/1.1 response in one write (see the module doc)."""
    reason = handler.responses.get(status, ("",))[0]
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    handler.wfile.write(head + body)
    handler.log_request(status, len(body))


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def get_request(self) -> tuple[socket.socket, object]:
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a killed instance drops its connection mid-request: expected, not worth a traceback


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            write_response(self, 404, b'{"errorMessage":"not found"}')
            return
        inv = self.server.api.next_invocation()
        if inv is None:  # closing: leave the client hanging up, as a frozen sandbox would
            self.close_connection = True
            return
        deadline_ms = int((time.time() + inv.timeout) * 1000)
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": inv.function_arn,
            "Lambda-Runtime-Trace-Id": inv.trace_id,
        }
        if inv.client_context:
            headers["Lambda-Runtime-Client-Context"] = inv.client_context
        write_response(self, 200, inv.payload, headers)

    def do_POST(self) -> None:
        body = self._body()
        if self.path == f"{PREFIX}/init/error":
            self.server.api.fail_init(
                body, self.headers.get(ERROR_TYPE_HEADER) or "Runtime.Unknown"
            )
            write_response(self, 202, b'{"status":"OK"}')
            return
        match = _INVOCATION_PATH.match(self.path)
        if match is None:
            write_response(self, 404, b'{"errorMessage":"not found"}')
            return
        request_id, kind = match.groups()
        error_type = None
        if kind == "error":
            error_type = self.headers.get(ERROR_TYPE_HEADER) or "Unhandled"
        if self.server.api.finish(request_id, body, error_type):
            write_response(self, 202, b'{"status":"OK"}')
        else:
            write_response(self, 400, b'{"errorMessage":"unknown or finished request id"}')


class _Server(QuietServer):
    api: RuntimeApi


class RuntimeApi:
    """The Runtime API of one instance: `submit` an invocation, the client fetches it with
    `GET .../next` and answers with `.../response` or `.../error`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: Invocation | None = None  # submitted, not yet fetched
        self._current: Invocation | None = None  # fetched, not yet answered
        self._closed = False
        self.init_error: bytes | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def submit(self, inv: Invocation) -> None:
        with self._cond:
            if self.init_error is not None:  # the runtime already died in init
                inv.finish(self.init_error, "Runtime.InitError")
                return
            self._pending = inv
            self._cond.notify_all()

    def next_invocation(self) -> Invocation | None:
        with self._cond:
            self._cond.wait_for(lambda: self._pending is not None or self._closed)
            inv = self._pending
            if self._closed or inv is None:
                return None
            self._pending, self._current = None, inv
            inv.fetched_at = time.monotonic()
            inv.fetched.set()
            return inv

    def finish(self, request_id: str, body: bytes, error_type: str | None) -> bool:
        with self._cond:
            inv = self._current
            if inv is None or inv.request_id != request_id:
                return False
            self._current = None
        inv.finish(body, error_type)
        return True

    def fail_init(self, body: bytes, error_type: str) -> None:
        with self._cond:
            self.init_error = body
            inv = self._pending or self._current
            self._pending = self._current = None
        if inv is not None:
            inv.finish(body, error_type)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        # shutdown() waits for the serve loop's next poll: do not make the caller wait for it.
        threading.Thread(target=self._shutdown, daemon=True).start()

    def _shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
