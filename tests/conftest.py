"""Shared fixtures. Tests that need a real part (emulator, Docker) fail, never skip, when
LC_REQUIRE_REAL_PARTS=1 (set by scripts/test and CI) and the part is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from lambda_complex.builder.local.aws import emulator as emulator_mod

# The real parts' session fixtures (Docker, base image, registry, the example built once),
# defined once for every folder that uses them.
pytest_plugins = ["tests.images.real_parts"]

REQUIRE_REAL_PARTS = (
    os.environ.get("LC_REQUIRE_REAL_PARTS") == "1" or os.environ.get("CI") == "true"
)


def missing_real_part(reason: str) -> None:
    """Fail in CI, skip on a laptop that lacks the part."""
    if REQUIRE_REAL_PARTS:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[emulator_mod.Emulator]:
    """The emulator users get: provisioned in the cache directory on first use (scripts/test
    does that up front), or $LCBUILD_EMULATOR."""
    try:
        server = emulator_mod.start()
    except emulator_mod.EmulatorNotFound as e:
        missing_real_part(str(e))
        raise
    with server:
        yield server


@pytest.fixture
def aws(
    emulator_server: emulator_mod.Emulator, monkeypatch: pytest.MonkeyPatch
) -> emulator_mod.Emulator:
    """A clean emulated AWS account; boto3 in this process points at it."""
    emulator_server.reset()
    for key, value in emulator_server.client_env().items():
        monkeypatch.setenv(key, value)
    return emulator_server


@pytest.fixture
def boto_session(aws: emulator_mod.Emulator) -> boto3.Session:
    return boto3.Session(region_name=aws.region)
