"""Fixtures for the stack tests: the example app, fake images pinned by digest, and a temporary
copy of the project (definition, components, Sceptre config) with a fake build manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lambda_complex.builder.app import load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.images import manifest, registry

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture(scope="session")
def example_app() -> App:
    return load.load(ROOT / "lambda-complex.yaml")


def fake_images(app: App) -> Images:
    return Images(
        components={c: f"{REGISTRY}/{app.name}/{c.lower()}@{DIGEST}" for c in app.component_names},
        coordinator=f"{REGISTRY}/{app.name}/coordinator@{DIGEST}",
    )


@pytest.fixture(scope="session")
def example_images(example_app: App) -> Images:
    return fake_images(example_app)


def write_manifest(project: Path, components: list[str], app_name: str = "sitegen") -> Path:
    """A build manifest as `lcbuild images --push` writes it (same writer), without building."""
    path = manifest.path_for(project)
    entries = {
        name: manifest.entry(repository=f"{REGISTRY}/{app_name}/{name.lower()}", tag="t",
                             digest=DIGEST, image_id=None, content_hash="h",
                             platform="linux/amd64", inputs={})
        for name in [*components, "coordinator"]
    }
    manifest.write(path, app_name, entries)
    return path


@pytest.fixture
def project(tmp_path: Path, example_app: App) -> Path:
    """A copy of the project a test may change freely."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "lambda-complex.yaml", root)
    shutil.copytree(ROOT / "examples", root / "examples")
    shutil.copytree(ROOT / "config", root / "config")
    write_manifest(root, list(example_app.component_names))
    return root


def push_repositories(project: Path) -> None:
    """What `lcbuild images --push` leaves in ECR: a repository per image, Lambda may pull
    (the emulator's ECR has no registry API, so nothing is pushed)."""
    ecr = registry.EcrRegistry("eu-west-1")
    data = json.loads(manifest.path_for(project).read_text())
    for entry in data["images"].values():
        ecr.ensure_repository(entry["repository"])
