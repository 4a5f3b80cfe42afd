"""Fixtures for the runtime tests (helpers live in rt_support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rt_support import FakeContext, LambdaStub, Runtime

from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.runtime import coordinator, resources, wrapper


@pytest.fixture
def rt(aws: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.delenv("AWS_ENDPOINT_URL_LAMBDA", raising=False)
    wrapper.reset()
    coordinator.reset()
    yield Runtime(tmp_path, monkeypatch)
    wrapper.reset()
    coordinator.reset()
    resources.reset()


@pytest.fixture
def lambda_stub(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaStub]:
    stub = LambdaStub()
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", stub.url)
    resources.reset()
    yield stub
    stub.close()


@pytest.fixture
def make_context() -> type[FakeContext]:
    return FakeContext
