"""Where a local run keeps its files: `.lcbuild/local/` beside the definition (logs per function,
the endpoints of a running run), and the reader of the instances' log lines. Shared by the run
itself and by the commands that look at it (`lcbuild trace --local`, `--local` commands)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import UserError

LOCAL_DIR = Path(".lcbuild") / "local"
ENDPOINT_FILE = "endpoints.json"  # in .lcbuild/local while a run is up (see endpoint_path)
REDEPLOY_FILE = "redeploy.json"  # the outcome of the last `lcbuild local deploy` (see below)
START_HINT = "start `lcbuild local run` for this application (in another terminal) first"


def local_dir(app: App) -> Path:
    return app.root / LOCAL_DIR


def endpoint_path(root: Path) -> Path:
    """Where a running `local run` publishes its endpoints (`lcbuild status --local` reads it):
    `{"endpoint": emulator, "sqs": the SQS tap, "lambda": the Lambda service, "credentials": the
    deployer's key variables}`, so that commands run beside it are counted in its report, invoke
    its functions and pass its IAM checks."""
    return root / LOCAL_DIR / ENDPOINT_FILE


def redeploy_path(root: Path) -> Path:
    """`{"handled": n, "ok": bool, "error": str | None}`: written by the running `local run`
    each time it has applied a redeploy (`lcbuild local deploy` signals it, then waits here)."""
    return root / LOCAL_DIR / REDEPLOY_FILE


@dataclass(frozen=True)
class Endpoints:
    """What a running `local run` published in its endpoint file (see endpoint_path)."""

    endpoint: str  # the emulator
    sqs: str  # the SQS tap in front of it
    lambda_url: str  # the local Lambda service
    pid: int | None = None  # the run's process (`lcbuild local deploy` signals it)
    credentials: dict[str, str] = field(default_factory=dict)  # the deployer's key variables


def read_endpoints(app: App) -> Endpoints:
    """The endpoints of the `local run` of `app`; a UserError when none is running (no file) or
    the file is not one a run wrote."""
    path = endpoint_path(app.root)
    try:
        data = _json_object(path)
        pid = data.get("pid")
        found = Endpoints(str(data["endpoint"]), str(data["sqs"]), str(data["lambda"]),
                          pid if isinstance(pid, int) else None,
                          {str(k): str(v) for k, v in (data.get("credentials") or {}).items()})
    except FileNotFoundError:
        raise UserError(f"no `lcbuild local run` is running for {app.name} ({path} does not "
                        f"exist): {START_HINT}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{path} is not the endpoint file of a running `lcbuild local run` "
                        f"({type(e).__name__}: {e}): {START_HINT}") from None
    return found


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None while it is missing or not (yet) a whole object."""
    try:
        return _json_object(path)
    except (OSError, ValueError):
        return None


def _json_object(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object but {type(data).__name__}")
    return data


def log_dir(app: App) -> Path:
    return local_dir(app) / "logs"


class LogTail:
    """Reads the instances' JSON log lines as they grow (<log_dir>/<function>/*.log)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.lines: list[dict[str, Any]] = []
        self._offsets: dict[Path, int] = {}

    def poll(self) -> list[dict[str, Any]]:
        for path in sorted(self.log_dir.glob("*/*.log")):
            offset = self._offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            end = data.rfind(b"\n") + 1  # only whole lines
            self._offsets[path] = offset + end
            for raw in data[:end].splitlines():
                if raw.startswith(b"{"):
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and "event" in record:
                        self.lines.append(record)
        return self.lines
