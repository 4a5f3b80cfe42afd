"""A minimal Lambda Runtime API server for driving the real awslambdaric in a container.

It hands out queued events on `GET .../invocation/next` and records what the client posts to
`.../response` or `.../error`. Every answer goes out in one write (status, headers, body):
separate writes make each invoke stall ~90 ms on delayed ACKs.
"""

from __future__ import annotations

import json
import queue
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"


class RuntimeApi:
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.results: dict[str, tuple[str, Any]] = {}
        self.done = threading.Condition()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                head = [f"HTTP/1.1 {status} {'OK' if status < 300 else 'Error'}"]
                head += [f"{k}: {v}" for k, v in headers.items()]
                head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
                self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
                self.wfile.flush()

            def do_GET(self) -> None:
                if self.path != f"{PREFIX}/invocation/next":
                    self._send(404, b"{}", {})
                    return
                request_id, body = api.events.get()
                self._send(200, body, {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": "9999999999999",
                    "Lambda-Runtime-Invoked-Function-Arn":
                        "arn:aws:lambda:eu-west-1:123456789012:function:test",
                })

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = self.path.removeprefix(PREFIX + "/").split("/")
                if len(parts) == 3 and parts[0] == "invocation":
                    with api.done:
                        api.results[parts[1]] = (parts[2], json.loads(body or b"null"))
                        api.done.notify_all()
                elif parts[0] == "init":  # init/error: the handler could not be loaded
                    with api.done:
                        api.results["init"] = ("error", json.loads(body or b"null"))
                        api.done.notify_all()
                self._send(202, b"{}", {})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RuntimeApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def invoke(self, event: Any, timeout: float = 30) -> tuple[str, Any]:
        """Queue one event and wait for its outcome: ("response"|"error", payload)."""
        request_id = str(uuid.uuid4())
        self.events.put((request_id, json.dumps(event).encode()))
        with self.done:
            ok = self.done.wait_for(
                lambda: request_id in self.results or "init" in self.results, timeout)
        if not ok:
            raise TimeoutError("no answer from the runtime interface client")
        return self.results.get(request_id) or self.results["init"]
