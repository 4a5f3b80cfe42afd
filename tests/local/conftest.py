"""Fixtures for the local Lambda service: tiny handler modules written to tmp_path, a service in
process mode (the real awslambdaric in worker processes), a boto3 Lambda client pointed at it."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.builder.local.lambda_service.service import LambdaService
from lambda_complex.builder.local.lambda_service.workers import ProcessLauncher
from tests.conftest import missing_real_part

# The example application built once per session (`built`, with Docker, base image and
# registry) comes from tests/images/real_parts.py, a plugin of the root conftest.

__all__ = ["missing_real_part"]  # re-exported for this folder's tests


HANDLERS = textwrap.dedent(
    '''
    import json, os, pathlib, time

    INSTANCE = os.urandom(8).hex()  # once per instance: tells warm reuse apart in any mode

    def echo(event, context):
        return {"event": event, "pid": os.getpid(), "instance": INSTANCE,
                "arn": context.invoked_function_arn,
                "remaining_ms": context.get_remaining_time_in_millis()}

    def crash(event, context):
        os._exit(3)

    def fail(event, context):
        raise ValueError("boom")

    def sleep(event, context):
        time.sleep(event.get("seconds", 0))
        return {"pid": os.getpid()}

    def record(event, context):
        """Leaves [start, end] in event["dir"], to check concurrency from the handlers' side."""
        start = time.time()
        time.sleep(event["seconds"])
        path = pathlib.Path(event["dir"]) / f"{event['n']}.json"
        path.write_text(json.dumps([start, time.time()]))

    def fail_counting(event, context):
        with open(event["file"], "a") as f:
            f.write(context.aws_request_id + "\\n")
        raise RuntimeError("always fails")

    def hog(event, context):
        data = b"x" * (event["mb"] * 2**20)  # touched, so resident
        time.sleep(2)
        return len(data)

    def append(event, context):
        with open(os.environ["APPEND_FILE"], "a") as f:
            f.write(json.dumps(event) + "\\n")

    def write(event, context):
        try:
            pathlib.Path(event["path"]).write_text("x")
            return "written"
        except OSError as e:
            return type(e).__name__

    def env(event, context):
        return {k: os.environ.get(k) for k in event["keys"]}
    '''
)


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "fns.py").write_text(HANDLERS)
    (folder / "broken.py").write_text("raise ImportError('cannot load me')\n")
    return folder


MakeService = Callable[..., LambdaService]


@pytest.fixture
def make_service(tmp_path: Path, code_dir: Path) -> Iterator[MakeService]:
    """make_service(*definitions, **options): a started process-mode service, stopped at the end.
    Definitions without code_path run from `code_dir`."""
    started: list[LambdaService] = []

    def make(*functions: FunctionDefinition, **options: Any) -> LambdaService:
        from dataclasses import replace

        options.setdefault("retry_delays", (0.05, 0.05))
        fns = [f if f.code_path else replace(f, code_path=code_dir) for f in functions]
        service = LambdaService(fns, ProcessLauncher(), tmp_path / "logs", **options).start()
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop()


def lambda_client(url: str) -> Any:
    """boto3 without its own retries, so a throttle reaches the test."""
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=30),
    )
