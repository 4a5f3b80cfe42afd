"""Session fixtures for every test against real parts: a Docker engine (started by
scripts/docker-up), the stand-in Lambda base image, a loopback registry (Debian's
docker-registry), and the example application built and pushed once per session.

A plugin of the root conftest (`pytest_plugins`), so each fixture is defined once for the whole
session: a fixture imported into several conftest files is a fixture of each, made once per
folder (the example application built and pushed twice, a registry per folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.images import pipeline as api
from lambda_complex.builder.local.aws.emulator import free_port
from tests.conftest import missing_real_part

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_BINARY = Path("/usr/bin/docker-registry")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="session")
def docker_client() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as e:
        missing_real_part(f"no Docker engine reachable ({e}); run scripts/docker-up as root")
        raise
    return client


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    """The stand-in Lambda base: LCBUILD_BASE_IMAGE, else whatever scripts/docker-up makes."""
    name = os.environ.get(api.BASE_IMAGE_ENV)
    if name:
        try:
            docker_client.images.get(name)
            return name
        except Exception:
            pass
    try:
        out = subprocess.run([str(ROOT / "scripts" / "docker-up")], check=True,
                             capture_output=True, text=True, timeout=900).stdout
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as e:
        missing_real_part(f"cannot make the stand-in base image with scripts/docker-up: {e}")
        raise
    line = out.strip().splitlines()[-1]
    assert line.startswith(api.BASE_IMAGE_ENV + "="), out
    return line.split("=", 1)[1]


@pytest.fixture(scope="session")
def ca_certs() -> tuple[Path, ...]:
    """HTTPS here goes through a re-signing proxy: builds get the host's CA bundle (--ca-cert),
    exactly as a user behind a corporate proxy would do."""
    return (HOST_CA_BUNDLE,) if HOST_CA_BUNDLE.is_file() else ()


@dataclass
class Registry:
    address: str  # 127.0.0.1:PORT
    process: subprocess.Popen[bytes]

    def head(self, repository: str, tag: str) -> str | None:
        path = repository.removeprefix(self.address + "/")
        request = urllib.request.Request(
            f"http://{self.address}/v2/{path}/manifests/{tag}", method="HEAD",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.headers.get("Docker-Content-Digest")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise


def start_registry(storage: Path) -> Registry:
    if not REGISTRY_BINARY.exists():
        missing_real_part("docker-registry is not installed; run scripts/docker-up as root")
    port = free_port()
    storage.mkdir(parents=True, exist_ok=True)
    config = storage.parent / f"registry-{port}.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "version": 0.1,
        "log": {"level": "error"},
        "storage": {"filesystem": {"rootdirectory": str(storage)}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }))
    process = subprocess.Popen([str(REGISTRY_BINARY), "serve", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            return Registry(f"127.0.0.1:{port}", process)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("docker-registry did not answer within 15 s")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    server = start_registry(tmp_path_factory.mktemp("registry") / "data")
    yield server
    server.process.terminate()
    server.process.wait(10)


def copy_app(destination: Path) -> Path:
    """The example application (definition and component folders) in a folder of its own."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "lambda-complex.yaml", destination / "lambda-complex.yaml")
    shutil.copytree(ROOT / "examples", destination / "examples",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return destination / "lambda-complex.yaml"


@dataclass
class Built:
    app_file: Path
    result: api.Result
    options: api.Options


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory, docker_client: Any, base_image: str,
          registry: Registry, ca_certs: tuple[Path, ...]) -> Built:
    """The example application built and pushed to the loopback registry, once per session."""
    app_file = copy_app(tmp_path_factory.mktemp("example"))
    options = api.Options(push=True, registry=registry.address, base_image=base_image,
                          ca_certs=ca_certs)
    result = api.build_images(app_load.load(app_file), options)
    failures = [(i.error, i.log_tail) for i in result.images if i.status == "failed"]
    assert result.ok, failures
    return Built(app_file, result, options)
