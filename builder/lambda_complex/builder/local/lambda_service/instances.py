"""A warm instance: one execution environment, its Runtime API server and the process or
container behind it; the watch over one execution (timeout, crash, memory); its log stream.

Each instance writes its output between START/END/REPORT lines to `<log_dir>/<function>/<name>.log`,
as CloudWatch keeps one log stream per execution environment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.builder.local.lambda_service.runtime_api import Invocation, RuntimeApi

_POLL = 0.05  # how often a running execution is checked for crash, timeout and memory
_TAIL_BYTES = 4096  # what Invoke's LogType=Tail returns, as in Lambda


class InstanceHandle(Protocol):
    ident: str  # process id or container id

    def exit_status(self) -> str | None: ...

    def rss_bytes(self) -> int | None: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    def start(
        self,
        fn: FunctionDefinition,
        runtime_api: str,
        environment: Mapping[str, str],
        work_dir: Path,
        log_path: Path,
    ) -> InstanceHandle: ...


def error_body(error_type: str, request_id: str, message: str) -> bytes:
    return json.dumps(
        {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
    ).encode()


class Instance:
    """One warm execution environment: a Runtime API server and the process/container it feeds."""

    def __init__(self, fn: FunctionDefinition, name: str, log_path: Path) -> None:
        self.fn, self.name, self.log_path = fn, name, log_path
        self.api = RuntimeApi()
        self.handle: InstanceHandle | None = None
        self.lost = False  # killed or exited: never reused
        self.killed = False  # by the service itself (a fault test), not by its own failure
        self.started = time.monotonic()
        self.last_used = self.started
        self.executions = 0
        self.renew_at = float("inf")  # time.monotonic() when its role credentials are due
        self._log = open(log_path, "ab", buffering=0)  # noqa: SIM115 (closed in stop)

    def run(self, inv: Invocation, init_timeout: float) -> bytes:
        """Run `inv` to its end (its `result`/`error_type` say how); returns the log tail."""
        start_offset = self.log_path.stat().st_size
        self._write(f"START RequestId: {inv.request_id} Version: $LATEST\n".encode())
        self.api.submit(inv)
        self._watch(inv, init_timeout)
        if self.api.init_error is not None:  # the runtime exits after reporting it
            self.lost = True
        duration = (time.monotonic() - inv.fetched_at) * 1000 if inv.fetched_at else 0.0
        init = (
            f"\tInit Duration: {(inv.fetched_at - self.started) * 1000:.2f} ms"
            if self.executions == 0 and inv.fetched_at
            else ""
        )
        rss = (self.handle.rss_bytes() if self.handle else None) or 0
        self._write(
            f"END RequestId: {inv.request_id}\nREPORT RequestId: {inv.request_id}\t"
            f"Duration: {duration:.2f} ms\tMemory Size: {self.fn.memory} MB\t"
            f"Max Memory Used: {rss // 2**20} MB{init}\n".encode()
        )
        self.executions += 1
        self.last_used = time.monotonic()
        return self._tail(start_offset)

    def _watch(self, inv: Invocation, init_timeout: float) -> None:
        assert self.handle is not None
        memory = self.fn.memory * 2**20
        while not inv.done.wait(_POLL):
            status = self.handle.exit_status()
            if status is not None:
                self._lose(inv, "Runtime.ExitError", f"Runtime exited with error: {status}")
            elif inv.fetched.is_set():
                if time.monotonic() - inv.fetched_at >= inv.timeout:
                    self._lose(
                        inv, "Sandbox.Timedout", f"Task timed out after {inv.timeout:.2f} seconds"
                    )
                elif (self.handle.rss_bytes() or 0) > memory:
                    self._lose(
                        inv, "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"
                    )
            elif time.monotonic() - self.started >= init_timeout:
                self._lose(
                    inv, "Sandbox.Timedout", f"Init timed out after {init_timeout:.2f} seconds"
                )

    def _lose(self, inv: Invocation, error_type: str, message: str) -> None:
        self.lost = True
        if self.handle is not None:
            self.handle.kill()
        self._write(f"{message}\n".encode())
        inv.finish(error_body(error_type, inv.request_id, message), error_type)

    def _write(self, data: bytes) -> None:
        # stop() (the service shutting down) may close the log while an execution is ending.
        if not self._log.closed:
            self._log.write(data)

    def _tail(self, offset: int) -> bytes:
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read()[-_TAIL_BYTES:]

    def stop(self) -> None:
        self.lost = True
        if self.handle is not None:
            self.handle.kill()
        self.api.close()
        self._log.close()
