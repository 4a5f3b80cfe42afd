"""The Docker Engine API over its Unix socket, with the standard library only: the few calls
container mode makes (create, start, logs, wait, remove, ping). The Docker SDK pulls in
`requests` and costs a quarter of a second to import, which `lcbuild local invoke` cannot
afford; image builds and pushes keep using the SDK.

Engine API reference: https://docs.docker.com/reference/api/engine/version/v1.41/
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

API = "/v1.41"  # the oldest engine we support (Debian 12's 20.10) speaks it; newer ones too
DEFAULT_SOCKET = "/var/run/docker.sock"
_FRAME = struct.Struct(">BxxxL")  # stream type, 3 zero bytes, payload size (non-TTY streams)


class EngineError(Exception):
    """The engine refused a call, or is not there: the message says which call and why."""


def socket_path(environ: Mapping[str, str] | None = None) -> str:
    """The engine's socket: DOCKER_HOST as `unix://PATH`, else the default. Container mode runs
    containers on the host network, so the engine must be this machine's: a `tcp://` host is
    refused."""
    host = (os.environ if environ is None else environ).get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    raise EngineError(f"DOCKER_HOST={host}: container mode needs this machine's engine on its "
                      "Unix socket (unix://PATH)")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class Engine:
    """One engine; every call opens its own connection (a stream holds its connection open)."""

    def __init__(self, path: str | None = None, timeout: float = 60.0) -> None:
        self.path = path or socket_path()
        self.timeout = timeout

    def _send(self, method: str, url: str, body: Any = None,
              timeout: float | None = None) -> _UnixConnection:
        """A new connection with the request sent on it (the answer not read yet)."""
        connection = _UnixConnection(self.path, timeout)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            connection.request(method, API + url, body=data, headers=headers)
        except OSError as e:
            connection.close()
            raise self._unreachable(e) from None
        return connection

    def _unreachable(self, error: OSError) -> EngineError:
        return EngineError(f"no Docker engine answers on {self.path} ({error})")

    def _open(self, method: str, url: str, body: Any = None,
              timeout: float | None = None) -> http.client.HTTPResponse:
        connection = self._send(method, url, body, timeout)
        try:
            response = connection.getresponse()
        except OSError as e:
            connection.close()
            raise self._unreachable(e) from None
        if response.status >= 400:
            text = response.read().decode("utf-8", "replace")
            connection.close()
            try:
                message = json.loads(text).get("message", text)
            except ValueError:
                message = text
            raise EngineError(f"{method} {url}: {response.status} {message}".strip())
        return response

    def _call(self, method: str, url: str, body: Any = None) -> Any:
        response = self._open(method, url, body, self.timeout)
        try:
            data = response.read()
        finally:
            response.close()
        return json.loads(data) if data else None

    def ping(self, timeout: float = 3.0) -> None:
        response = self._open("GET", "/_ping", timeout=timeout)
        response.read()
        response.close()

    def create(self, config: Mapping[str, Any]) -> str:
        """POST /containers/create: the new container's id."""
        return str(self._call("POST", "/containers/create", config)["Id"])

    def start(self, ident: str) -> None:
        self._call("POST", f"/containers/{ident}/start")

    def remove(self, ident: str, *, await_answer: bool = True) -> None:
        """DELETE /containers/{id}?force=1: kill it (the engine waits for it to stop, about a
        tenth of a second) and remove it. `await_answer=False` sends the request and returns at
        once: the engine carries it out all the same (its handlers do not stop when the client
        goes away), so a process that ends right after does not wait for the container to stop.
        """
        if await_answer:
            self._call("DELETE", f"/containers/{ident}?force=1")
            return
        self._send("DELETE", f"/containers/{ident}?force=1", timeout=self.timeout).close()

    def logs(self, ident: str) -> Iterator[bytes]:
        """The container's stdout and stderr, from its start, following until it exits."""
        response = self._open("GET", f"/containers/{ident}/logs?follow=1&stdout=1&stderr=1",
                              timeout=None)
        return _frames(response)

    def wait(self, ident: str, condition: str = "not-running") -> http.client.HTTPResponse:
        """A wait on the container; `exit_code(response)` blocks until it ends."""
        query = urllib.parse.urlencode({"condition": condition})
        return self._open("POST", f"/containers/{ident}/wait?{query}", timeout=None)


def exit_code(response: http.client.HTTPResponse) -> int:
    """The status code a registered wait ends with (-1 when the engine gave none)."""
    try:
        data = json.loads(response.read() or b"{}")
    finally:
        response.close()
    return int(data.get("StatusCode", -1)) if isinstance(data, dict) else -1


def _frames(response: http.client.HTTPResponse) -> Iterator[bytes]:
    """The payloads of a multiplexed (non-TTY) stream, in order, until it ends."""
    try:
        while True:
            header = _read_exactly(response, _FRAME.size)
            if header is None:
                return
            _, size = _FRAME.unpack(header)
            payload = _read_exactly(response, size)
            if payload is None:
                return
            yield payload
    finally:
        response.close()


def _read_exactly(response: http.client.HTTPResponse, size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = response.read1(left) if hasattr(response, "read1") else response.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
