"""The embedded AWS emulator: moto in server mode, as its own process on 127.0.0.1.

moto[server] runs from its own environment, provisioned on first use under the user's cache
directory (`emulator_env`), or from `$LCBUILD_EMULATOR` (a moto_server executable). We only talk
to it over HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local.aws import emulator_env
from lambda_complex.builder.local.aws.account import REGION
from lambda_complex.builder.local.aws.emulator_server import serve

EMULATOR_ENV = emulator_env.OVERRIDE_ENV


EmulatorNotFound = emulator_env.EmulatorNotFound


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def find_moto_server() -> str:
    """The emulator's executable: $LCBUILD_EMULATOR (a moto_server), else the Python of the
    provisioned environment, made now if it does not exist yet."""
    explicit = os.environ.get(EMULATOR_ENV)
    if explicit:
        if not Path(explicit).is_file():
            raise EmulatorNotFound(f"{EMULATOR_ENV}={explicit}: no such file (a moto_server "
                                   f"executable, or unset it to use the provisioned emulator)")
        return explicit
    return str(emulator_env.provision())


@dataclass
class Emulator:
    """A running moto server. Use as a context manager or call stop()."""

    process: subprocess.Popen[bytes]
    port: int
    region: str = REGION
    log_path: Path | None = None

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

    def wait_ready(self, timeout: float = 30.0) -> Emulator:
        """Wait until the server answers (stopping it if it does not within `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the AWS emulator exited at start (code {self.process.returncode}); "
                    f"see {self.log_path or 'its output'}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"the AWS emulator did not answer on port {self.port} within {timeout:.0f} s")

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


FAST_LAUNCHER = Path(__file__).parent / "emulator_server" / "serve.py"


def server_command(executable: str, fast: bool = True, warm_up: bool = False) -> list[str]:
    """How to start the server from `executable`: a moto_server, or the provisioned environment's
    Python. `fast`: our launcher, run by the Python that moto belongs to: the same server with SQS
    receives and sends that cost O(1) per message instead of O(queue depth); `warm_up` (our
    launcher only): it loads the services a local run's deploy calls while it starts."""
    path = Path(executable)
    python = path if path.name.startswith("python") else path.with_name("python")
    if fast and python.exists():
        return [str(python), str(FAST_LAUNCHER), *([serve.WARM_UP_ARG] if warm_up else [])]
    if python == path:  # not its scripts: the environment was built elsewhere, then moved
        return [str(python), "-m", "moto.server"]
    return [executable]


def launch(port: int | None = None, log_path: Path | None = None, fast: bool = True,
           warm_up: bool = False) -> Emulator:
    """Start moto_server on 127.0.0.1 without waiting for it: its endpoint is known at once, so
    what needs no answer yet can be prepared while it boots; `wait_ready` before calling it."""
    executable = find_moto_server()
    port = port or free_port()
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [*server_command(executable, fast, warm_up), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Emulator(process=process, port=port, log_path=log_path)


def start(
    port: int | None = None,
    log_path: Path | None = None,
    timeout: float = 30.0,
    fast: bool = True,
) -> Emulator:
    """Start moto_server on 127.0.0.1 and wait until it answers."""
    return launch(port, log_path, fast).wait_ready(timeout)


def main(argv: list[str] | None = None) -> int:
    """`python -m lambda_complex.builder.local.aws.emulator [--provision]`: make the emulator's
    environment and print its Python (`--provision`), or run the emulator until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m lambda_complex.builder.local.aws.emulator")
    parser.add_argument("--provision", action="store_true",
                        help="only make (or find) the emulator's environment; print its Python")
    args = parser.parse_args(argv)
    try:
        if args.provision:
            print(find_moto_server(), flush=True)
            return 0
        with start() as running:
            print(running.endpoint_url, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                running.process.wait()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
