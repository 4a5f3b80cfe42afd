"""Container mode: each warm instance is a container of the function's built image, whose
entrypoint (the real awslambdaric) talks to the instance's Runtime API server over loopback.

Lambda's sandbox, as far as one engine can give it: host networking (so 127.0.0.1 is the service
and the emulator; no bridge, no other address), a read-only root file system with a writable
`/tmp`, the function's memory as the container's memory limit (the engine kills it beyond that,
as Lambda does), and the handler as the command. The container's output is copied into the
instance's log stream by a thread, so its lines may land just after the END line of their
invocation.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambda_complex.builder.local.lambda_service.engine_socket import Engine, EngineError, exit_code
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition

TMP_SIZE = "512m"  # Lambda's default ephemeral storage
FUNCTION_LABEL = "lambda-complex.function"  # which function a container is an instance of


def container_config(fn: FunctionDefinition, runtime_api: str,
                     environment: Mapping[str, str]) -> dict[str, Any]:
    """The Engine API's create body for one instance of `fn` (pure)."""
    env = {**environment, "AWS_LAMBDA_RUNTIME_API": runtime_api}
    memory = fn.memory * 2**20
    return {
        "Image": fn.image,
        "Cmd": [fn.handler],
        "Env": [f"{key}={value}" for key, value in env.items()],
        "Labels": {FUNCTION_LABEL: fn.name},
        "HostConfig": {
            "NetworkMode": "host",
            "ReadonlyRootfs": True,
            "Tmpfs": {"/tmp": f"rw,size={TMP_SIZE}"},
            "Memory": memory,
            "MemorySwap": memory,  # no swap: beyond the limit is beyond the limit
        },
    }


class ContainerInstance:
    """A started container: its output copied to `log_path`, its exit watched. It stays until
    `kill` removes it, so an instance that fails at once still leaves its lines and status.
    `await_removal=False`: `kill` asks the engine to remove it and returns without waiting."""

    def __init__(self, engine: Engine, ident: str, log_path: Path,
                 await_removal: bool = True) -> None:
        self.engine = engine
        self.ident = ident
        self.await_removal = await_removal
        self._exit: str | None = None
        self._exited = threading.Event()
        threading.Thread(target=self._copy_logs, args=(log_path,), daemon=True).start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _copy_logs(self, log_path: Path) -> None:
        try:
            with open(log_path, "ab", buffering=0) as out:
                for chunk in self.engine.logs(self.ident):
                    out.write(chunk)
        except Exception:  # the container was removed under us: its stream ends here
            pass

    def _wait(self) -> None:
        try:
            code = exit_code(self.engine.wait(self.ident))
        except Exception:
            code = -1
        # 137 = 128 + SIGKILL: the engine's OOM killer or our own kill.
        self._exit = "signal: killed" if code == 137 else f"exit status {code}"
        self._exited.set()

    def exit_status(self) -> str | None:
        return self._exit if self._exited.is_set() else None

    def rss_bytes(self) -> int | None:
        return None  # the engine enforces the memory limit itself

    def kill(self) -> None:
        """Kill and remove it (one call), then wait for its exit to be seen; or, without
        `await_removal`, only send that call."""
        with contextlib.suppress(EngineError):  # already gone
            self.engine.remove(self.ident, await_answer=self.await_removal)
        if self.await_removal:
            self._exited.wait(10)


class ContainerLauncher:
    """Starts instances through the engine's socket. `engine`: default, this machine's.
    `await_removal=False` (`lcbuild local invoke`, whose process ends once its one instance is
    killed): killing an instance does not wait for the engine to stop and remove it."""

    def __init__(self, engine: Engine | None = None, *, await_removal: bool = True) -> None:
        self.engine = engine or Engine()
        self.await_removal = await_removal

    def start(
        self,
        fn: FunctionDefinition,
        runtime_api: str,
        environment: Mapping[str, str],
        work_dir: Path,
        log_path: Path,
    ) -> ContainerInstance:
        if not fn.image:
            raise ValueError(f"function {fn.name} has no image to run in container mode")
        ident = self.engine.create(container_config(fn, runtime_api, environment))
        try:
            self.engine.start(ident)
        except BaseException:
            with contextlib.suppress(EngineError):  # created, never started: nothing to keep
                self.engine.remove(ident)
            raise
        return ContainerInstance(self.engine, ident, log_path, self.await_removal)
