"""A function whose instances cannot start: an execution that ended before its handler ran
(the runtime reported an init error, exited, or never asked for the event). Lambda calls this an
init error (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-initerror):
every later execution on a new instance fails the same way, so a run should stop and say so,
not retry until its timeout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lambda_complex.builder.local.lambda_service.runtime_api import Invocation

# Failures before the handler that say nothing about the function: the service stopping it, or
# the service's own fault.
_NOT_THE_FUNCTIONS = ("Runtime.Unknown",)
_SHUTTING_DOWN = "the function is shutting down"
_OWN_LINES = ("START RequestId:", "END RequestId:", "REPORT RequestId:", "Runtime exited with")


@dataclass(frozen=True)
class StartFailure:
    function: str
    error_type: str
    message: str
    log_path: Path | None = None

    def __str__(self) -> str:
        where = f" (log: {self.log_path})" if self.log_path else ""
        return f"{self.error_type}: {self.message}{where}"


def of_execution(function: str, inv: Invocation, log_path: Path | None) -> StartFailure | None:
    """The start failure this finished execution shows, if it ended before the handler ran."""
    if inv.error_type is None or inv.fetched.is_set() or inv.error_type in _NOT_THE_FUNCTIONS:
        return None
    error_type, message = _parse(inv.result, inv.error_type)
    if _SHUTTING_DOWN in message:
        return None
    if inv.error_type == "Runtime.ExitError" and log_path is not None:
        # It died before reporting anything (its interpreter could not even load the runtime
        # interface client): its last words are in its log.
        message = last_output_line(log_path) or message
    return StartFailure(function, error_type, message, log_path)


def _parse(body: bytes, error_type: str) -> tuple[str, str]:
    try:
        data = json.loads(body)
    except ValueError:
        return error_type, body.decode("utf-8", "replace").strip()
    if not isinstance(data, dict):
        return error_type, str(data)
    message = str(data.get("errorMessage") or "")
    prefix = "Error: "  # our own error bodies: "RequestId: ... Error: <message>"
    if message.startswith("RequestId: ") and prefix in message:
        message = message.split(prefix, 1)[1]
    return str(data.get("errorType") or error_type), message


def last_output_line(log_path: Path) -> str | None:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith(_OWN_LINES):
            return stripped
    return None
