"""Container mode: the built image's real awslambdaric, in a read-only container on host networking,
talking to the instance's Runtime API server. Needs Docker and the (stand-in) Lambda base image."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambda_complex.builder.local.lambda_service.containers import ContainerLauncher
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.builder.local.lambda_service.service import LambdaService

from .conftest import HANDLERS, lambda_client, missing_real_part

STANDIN = "lambda-complex/standin-base:latest"


def _docker() -> Any:
    import docker

    return docker


@pytest.fixture(scope="module")
def docker_client() -> Any:
    try:
        client = _docker().from_env()
        client.ping()
    except Exception as e:
        missing_real_part(f"no Docker engine answers ({e}); run scripts/docker-up")
    return client


@pytest.fixture(scope="module")
def test_image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test handlers on the Lambda base image (LCBUILD_BASE_IMAGE, or the local stand-in)."""
    base = os.environ.get("LCBUILD_BASE_IMAGE", STANDIN)
    try:
        docker_client.images.get(base)
    except _docker().errors.ImageNotFound:
        missing_real_part(f"base image {base} is missing; run scripts/docker-up")
    context = tmp_path_factory.mktemp("image")
    (context / "fns.py").write_text(HANDLERS)
    (context / "Dockerfile").write_text(f'FROM {base}\nCOPY fns.py /var/task/\nCMD ["fns.echo"]\n')
    tag = "lambda-complex/local-test:" + hashlib.sha256((base + HANDLERS).encode()).hexdigest()[:12]
    docker_client.images.build(path=str(context), tag=tag, forcerm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


@pytest.fixture
def service(docker_client: Any, test_image: str, tmp_path: Path) -> Iterator[LambdaService]:
    fns = [
        FunctionDefinition("echo", "fns.echo", image=test_image, memory=256),
        FunctionDefinition("write", "fns.write", image=test_image),
        FunctionDefinition("sleep", "fns.sleep", image=test_image, timeout=1),
        FunctionDefinition("fail", "fns.fail", image=test_image),
        FunctionDefinition("hog", "fns.hog", image=test_image, memory=128, timeout=20),
    ]
    with LambdaService(fns, ContainerLauncher(), tmp_path / "logs") as running:
        yield running
    left = docker_client.containers.list(all=True, filters={"label": "lambda-complex.function"})
    assert left == []  # every instance's container is gone after stop


def _payload(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


def test_container_instances_run_the_image_and_stay_warm(service: LambdaService) -> None:
    client = lambda_client(service.url)
    first = _payload(client.invoke(FunctionName="echo", Payload=b'{"n": 1}'))
    second = _payload(client.invoke(FunctionName="echo", Payload=b'{"n": 2}'))
    assert first["event"] == {"n": 1} and second["event"] == {"n": 2}
    assert first["instance"] == second["instance"]
    assert service.stats()["echo"]["cold_starts"] == 1


@pytest.mark.timing
def test_a_container_cold_start_answers_within_ten_seconds(service: LambdaService) -> None:
    started = time.monotonic()
    first = _payload(lambda_client(service.url).invoke(FunctionName="echo", Payload=b"{}"))
    cold = time.monotonic() - started
    assert first["event"] == {} and service.stats()["echo"]["cold_starts"] == 1
    assert cold < 10, cold


def test_container_file_system_is_read_only_except_tmp(service: LambdaService) -> None:
    client = lambda_client(service.url)
    assert _payload(client.invoke(FunctionName="write", Payload=b'{"path": "/tmp/x"}')) == "written"
    denied = _payload(client.invoke(FunctionName="write", Payload=b'{"path": "/var/task/x"}'))
    assert denied == "OSError"  # EROFS


def test_container_errors_and_timeouts(service: LambdaService) -> None:
    client = lambda_client(service.url)
    failed = client.invoke(FunctionName="fail")
    assert failed["FunctionError"] == "Unhandled" and _payload(failed)["errorType"] == "ValueError"
    timed_out = client.invoke(FunctionName="sleep", Payload=b'{"seconds": 5}')
    assert _payload(timed_out)["errorType"] == "Sandbox.Timedout"
    assert service.stats()["sleep"]["instances"] == 0  # the container was killed, not kept


def test_container_memory_limit_is_the_functions_memory(service: LambdaService) -> None:
    response = lambda_client(service.url).invoke(FunctionName="hog", Payload=b'{"mb": 300}')
    assert response["FunctionError"] == "Unhandled"
    body = _payload(response)
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"].endswith("Runtime exited with error: signal: killed")
