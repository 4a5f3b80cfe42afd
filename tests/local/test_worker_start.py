"""A worker that cannot start (handler module does not import, handler function missing, no
runtime interface client) is an init error the service records, and `lcbuild local run` stops
within seconds naming the component and the error, exit 1, no traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lambda_complex.builder.cli import cli
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.builder.local.lambda_service.service import LambdaService
from lambda_complex.builder.local.lambda_service.workers import ProcessLauncher

from .conftest import MakeService, lambda_client


def _start_failure(service: LambdaService, name: str) -> tuple[str, str]:
    answer = lambda_client(service.url).invoke(FunctionName=name, Payload=b"{}")
    assert answer.get("FunctionError") == "Unhandled"
    pool = service.pool(name)
    assert pool is not None and pool.start_failure is not None
    return pool.start_failure.error_type, pool.start_failure.message


def test_import_error_and_missing_handler_are_start_failures(make_service: MakeService) -> None:
    service = make_service(
        FunctionDefinition(name="broken", handler="broken.handler"),
        FunctionDefinition(name="missing", handler="fns.nope"),
        FunctionDefinition(name="fine", handler="fns.echo"),
        FunctionDefinition(name="failing", handler="fns.fail"),
    )
    assert _start_failure(service, "broken") == (
        "Runtime.ImportModuleError", "Unable to import module 'broken': cannot load me")
    assert _start_failure(service, "missing") == (
        "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'fns'")
    client = lambda_client(service.url)
    client.invoke(FunctionName="fine", Payload=b"{}")
    client.invoke(FunctionName="failing", Payload=b"{}")  # the handler ran: not a start failure
    for name in ("fine", "failing"):
        pool = service.pool(name)
        assert pool is not None and pool.start_failure is None


@pytest.mark.timing
def test_a_start_failure_is_answered_within_ten_seconds(make_service: MakeService) -> None:
    service = make_service(FunctionDefinition(name="broken", handler="broken.handler"))
    started = time.monotonic()
    answer = lambda_client(service.url).invoke(FunctionName="broken", Payload=b"{}")
    assert answer.get("FunctionError") == "Unhandled"
    assert time.monotonic() - started < 10


def test_a_worker_without_the_runtime_interface_client_is_a_start_failure(
    tmp_path: Path, code_dir: Path
) -> None:
    fn = FunctionDefinition(name="f", handler="fns.echo", code_path=code_dir)
    launcher = ProcessLauncher(distributions=("boto3",))  # a base without awslambdaric
    with LambdaService([fn], launcher, tmp_path / "logs") as service:
        error_type, message = _start_failure(service, "f")
    assert error_type == "Runtime.ExitError"
    assert message == "ModuleNotFoundError: No module named 'awslambdaric'"


APP = """\
name: starts
version: 0.1.0
deployment: {region: eu-west-1, registry: ecr}
coordinator: {concurrency: 1, min_interval: 1, timeout: 20}
components:
  - name: hello
    type: event_from_invocation
    max_concurrency: 1
    lambda: {path: code, handler: hello.HANDLER, timeout: 4}
"""


def _run(tmp_path: Path, handler: str, code: str) -> tuple[int, str, float]:
    root = tmp_path / "app"
    (root / "code").mkdir(parents=True)
    (root / "lambda-complex.yaml").write_text(APP.replace("HANDLER", handler))
    (root / "code" / "hello.py").write_text(code)
    started = time.monotonic()
    result = CliRunner().invoke(cli, [
        "local", "run", "--app", str(root / "lambda-complex.yaml"), "--mode", "process",
        "--send", "hello={}", "--until-idle", "--timeout", "300"])
    return result.exit_code, result.output, time.monotonic() - started


@pytest.fixture(scope="module")
def import_failure_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, float]:
    """One `lcbuild local run` of a component whose module does not import (a deploy each):
    what it printed is checked apart from how long it took."""
    code = "import not_listed_anywhere\n\ndef handler(event, context):\n    return event\n"
    return _run(tmp_path_factory.mktemp("import-failure"), "handler", code)


def test_local_run_stops_when_a_component_cannot_start(
    import_failure_run: tuple[int, str, float],
) -> None:
    exit_code, output, _ = import_failure_run
    assert exit_code == 1, output
    assert "error: hello cannot start: Runtime.ImportModuleError: Unable to import module" in output
    assert "No module named 'not_listed_anywhere'" in output
    assert "Traceback" not in output


@pytest.mark.timing
def test_local_run_stops_at_once_when_a_component_cannot_start(
    import_failure_run: tuple[int, str, float],
) -> None:
    exit_code, output, took = import_failure_run
    assert exit_code == 1, output
    assert took < 90  # the deploy takes most of it; the run's own timeout is 300 s


# Defined only when a variable is set: `validate` (which reads the code, never runs it) sees it.
CONDITIONAL = """\
import os

if os.environ.get("HELLO_ENABLED"):
    def hander(event, context):
        return event
"""


def test_local_run_names_a_handler_function_missing_at_run_time(tmp_path: Path) -> None:
    exit_code, output, _ = _run(tmp_path, "hander", CONDITIONAL)

    assert exit_code == 1, output
    assert "error: hello cannot start: " in output
    assert "module 'hello' has no attribute 'hander'" in output
    assert "Traceback" not in output
