"""The embedded AWS emulator: moto in server mode, as its own process on 127.0.0.1.

moto[server] lives in its own environment (`.venv-emulator`, made by `scripts/bootstrap`) because
sceptre pins jsonschema<3.3 and moto's server needs jsonschema 4. We only talk to it over HTTP.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
EMULATOR_ENV = "LCBUILD_EMULATOR"  # path of a moto_server executable, overrides discovery


class EmulatorNotFound(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_moto_server(project_root: Path | None = None) -> str:
    """The moto_server executable: $LCBUILD_EMULATOR, the project's .venv-emulator, or PATH."""
    explicit = os.environ.get(EMULATOR_ENV)
    if explicit:
        return explicit
    roots = [project_root or Path.cwd(), Path(__file__).resolve().parents[4]]
    for root in roots:
        candidate = root / ".venv-emulator" / "bin" / "moto_server"
        if candidate.exists():
            return str(candidate)
    found = shutil.which("moto_server")
    if found:
        return found
    raise EmulatorNotFound(
        "the AWS emulator (moto_server) was not found: run scripts/bootstrap, which creates "
        f".venv-emulator, or set {EMULATOR_ENV} to a moto_server executable"
    )


@dataclass
class Emulator:
    """A running moto server. Use as a context manager or call stop()."""

    process: subprocess.Popen[bytes]
    port: int
    region: str = REGION

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client_env(self) -> dict[str, str]:
        """Environment that points boto3, the AWS CLI and sceptre at this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def reset(self) -> None:
        """Forget every resource (moto's reset API): a clean account between tests."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


FAST_LAUNCHER = Path(__file__).with_name("moto_server_fast.py")


def server_command(executable: str, fast: bool = True) -> list[str]:
    """moto_server, or (`fast`) our launcher run by the Python that moto_server belongs to: the
    same server with SQS receives and sends that cost O(1) per message instead of O(queue depth)."""
    python = Path(executable).with_name("python")
    if fast and python.exists():
        return [str(python), str(FAST_LAUNCHER)]
    return [executable]


def start(
    port: int | None = None,
    log_path: Path | None = None,
    project_root: Path | None = None,
    timeout: float = 30.0,
    fast: bool = True,
) -> Emulator:
    """Start moto_server on 127.0.0.1 and wait until it answers."""
    executable = find_moto_server(project_root)
    port = port or free_port()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [*server_command(executable, fast), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    emulator = Emulator(process=process, port=port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the AWS emulator exited at start (code {process.returncode}); "
                f"see {log_path or 'its output'}"
            )
        try:
            with urllib.request.urlopen(f"{emulator.endpoint_url}/moto-api/", timeout=1):
                return emulator
        except OSError:
            time.sleep(0.1)
    emulator.stop()
    raise RuntimeError(f"the AWS emulator did not answer on port {port} within {timeout:.0f} s")


if __name__ == "__main__":  # manual use: python -m lambda_complex.builder.local.emulator
    with start() as running:
        print(running.endpoint_url, flush=True)
        try:
            running.process.wait()
        except KeyboardInterrupt:
            sys.exit(0)
