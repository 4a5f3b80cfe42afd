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

from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition

TMP_SIZE = "512m"  # Lambda's default ephemeral storage


class ContainerInstance:
    def __init__(self, container: Any, log_path: Path) -> None:
        self.container = container
        self.ident = str(container.id)
        self._exit: str | None = None
        self._exited = threading.Event()
        threading.Thread(target=self._copy_logs, args=(log_path,), daemon=True).start()
        threading.Thread(target=self._wait, daemon=True).start()

    def _copy_logs(self, log_path: Path) -> None:
        try:
            with open(log_path, "ab", buffering=0) as out:
                for chunk in self.container.logs(stream=True, follow=True):
                    out.write(chunk)
        except Exception:  # the container was removed under us: its stream ends here
            pass

    def _wait(self) -> None:
        try:
            result = self.container.wait()
            code = int(result.get("StatusCode", -1))
        except Exception:
            code = -1
        # 137 = 128 + SIGKILL: the engine's OOM killer or our own kill.
        self._exit = "signal: killed" if code == 137 else f"exit status {code}"
        self._exited.set()

    def exit_status(self) -> str | None:
        return self._exit if self._exited.is_set() else None

    def rss_bytes(self) -> int | None:
        return None  # the engine enforces mem_limit itself

    def kill(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.container.remove(force=True)
        self._exited.wait(10)


class ContainerLauncher:
    """Starts instances with the Docker SDK. `client`: a docker.DockerClient (default: from_env)."""

    def __init__(self, client: Any = None) -> None:
        if client is None:
            import docker  # only container mode needs the SDK

            client = docker.from_env()
        self.client = client

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
        container = self.client.containers.run(
            fn.image,
            command=[fn.handler],
            environment={**environment, "AWS_LAMBDA_RUNTIME_API": runtime_api},
            network_mode="host",
            read_only=True,
            tmpfs={"/tmp": f"rw,size={TMP_SIZE}"},
            mem_limit=f"{fn.memory}m",
            memswap_limit=f"{fn.memory}m",  # no swap: beyond the limit is beyond the limit
            labels={"lambda-complex.function": fn.name},
            detach=True,
        )
        return ContainerInstance(container, log_path)
