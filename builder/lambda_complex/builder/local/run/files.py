"""Where a local run keeps its files: `.lcbuild/local/` beside the definition (logs per function,
the endpoints of a running run), and the reader of the instances' log lines. Shared by the run
itself and by the commands that look at it (`lcbuild trace --local`, `--local` commands)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lambda_complex.builder.app.model import App

LOCAL_DIR = Path(".lcbuild") / "local"
ENDPOINT_FILE = "endpoints.json"  # in .lcbuild/local while a run is up (see endpoint_path)
REDEPLOY_FILE = "redeploy.json"  # the outcome of the last `lcbuild local deploy` (see below)


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


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
