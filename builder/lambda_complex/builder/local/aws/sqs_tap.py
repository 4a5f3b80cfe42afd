"""A counting pass-through in front of the emulator's SQS API, for the report's message accounting.

Every SQS call of the testbed's instances (and of `lcbuild ... --local` commands) goes through it
(`AWS_ENDPOINT_URL_SQS`); it forwards the request unchanged and counts, per queue name, the
messages that SendMessage/SendMessageBatch actually accepted and DeleteMessage/DeleteMessageBatch
actually deleted. Sends are the sender's side of "every message created", which no receiver can
tell: a message deleted without being handled would otherwise vanish unseen; deletes from a
dead-letter queue are dead letters taken out again (`lcbuild redrive`). botocore speaks the JSON
protocol to SQS (`X-Amz-Target: AmazonSQS.<Action>`). Loopback only.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_DROPPED_HEADERS = frozenset(
    {"content-length", "connection", "transfer-encoding", "date", "server"}
)


SENT, DELETED = "sent", "deleted"
_COUNTED = {
    "AmazonSQS.SendMessage": SENT,
    "AmazonSQS.SendMessageBatch": SENT,
    "AmazonSQS.DeleteMessage": DELETED,
    "AmazonSQS.DeleteMessageBatch": DELETED,
}


def counted(action: str, request: bytes, response: bytes) -> tuple[str, str, int] | None:
    """(SENT or DELETED, queue name, messages) of a successful send or delete call's request and
    response bodies, else None."""
    what = _COUNTED.get(action)
    if what is None:
        return None
    try:
        sent, answer = json.loads(request or b"{}"), json.loads(response or b"{}")
        queue = urllib.parse.urlsplit(str(sent["QueueUrl"])).path.rsplit("/", 1)[-1]
    except (ValueError, KeyError, TypeError):
        return None
    if action == "AmazonSQS.SendMessage":
        return what, queue, 1 if "MessageId" in answer else 0
    if action == "AmazonSQS.DeleteMessage":
        return what, queue, 1
    return what, queue, len(answer.get("Successful", []))


class SqsTap:
    """`start()`, point SQS clients at `url`, read `sent()` and `deleted()`; `stop()`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream).netloc
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.tap = self  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> SqsTap:
        threading.Thread(target=self._server.serve_forever, args=(0.2,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, what: str, queue: str, n: int) -> None:
        with self._lock:
            self._counts[(what, queue)] += n

    def _of(self, what: str) -> dict[str, int]:
        with self._lock:
            return {queue: n for (kind, queue), n in self._counts.items() if kind == what}

    def sent(self) -> dict[str, int]:
        """Messages accepted per queue name."""
        return self._of(SENT)

    def deleted(self) -> dict[str, int]:
        """Messages deleted per queue name."""
        return self._of(DELETED)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        tap: SqsTap = self.server.tap  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        # Host too: it is signed, and the emulator checks signatures when IAM is enforced.
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn = http.client.HTTPConnection(tap.upstream, timeout=60)
        try:
            conn.request("POST", self.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _DROPPED_HEADERS]
            status = answer.status
        finally:
            conn.close()
        if status == 200:
            found = counted(self.headers.get("X-Amz-Target", ""), body, data)
            if found is not None:
                tap.count(*found)
        head = [f"HTTP/1.1 {status} {http.client.responses.get(status, '')}"]
        head += [f"{k}: {v}" for k, v in kept] + [f"Content-Length: {len(data)}", "", ""]
        self.wfile.write("\r\n".join(head).encode("latin-1") + data)  # one write: no stall
        self.wfile.flush()
