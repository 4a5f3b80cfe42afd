"""`lcbuild images` inside the builder image (dockerfiles/builder.Dockerfile), driving the host's
engine through the mounted socket, pushing to the loopback registry over host networking."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

from lambda_complex.builder.images import context, manifest
from tests.images.conftest import HOST_CA_BUNDLE, ROOT, Built, Registry, copy_app

SOCKET = "/var/run/docker.sock"
BUILD_LEFTOVERS = ("build/", "*.egg-info/")
BUILDER_TAG = "lambda-complex/builder:test"


def builder_context() -> bytes:
    """The files dockerfiles/builder.Dockerfile copies, and nothing else (no virtualenvs)."""
    entries = [
        context.Entry("dockerfiles/builder.Dockerfile",
                      (ROOT / "dockerfiles/builder.Dockerfile").read_bytes()),
        context.Entry("Dockerfile.base", (ROOT / "Dockerfile.base").read_bytes()),
        context.Entry("README.md", (ROOT / "README.md").read_bytes()),
        # Not what a wheel build leaves in the checkout (build/, *.egg-info/).
        *context.collect(ROOT / "builder", prefix="builder/", extra_ignores=BUILD_LEFTOVERS),
        *context.collect(ROOT / "runtime", prefix="runtime/", extra_ignores=BUILD_LEFTOVERS),
    ]
    if HOST_CA_BUNDLE.is_file():  # this machine's HTTPS proxy re-signs with its own CA
        entries.append(context.Entry("dockerfiles/extra-ca.pem", HOST_CA_BUNDLE.read_bytes()))
    return context.tar(entries)


def build_builder(docker_client: Any, base_image: str) -> None:
    log = []
    for chunk in docker_client.api.build(
            fileobj=io.BytesIO(builder_context()), custom_context=True, tag=BUILDER_TAG,
            dockerfile="dockerfiles/builder.Dockerfile", buildargs={"BASE_IMAGE": base_image},
            network_mode="host", forcerm=True, pull=False, decode=True):
        log.append(chunk.get("stream") or chunk.get("error") or "")
        assert "error" not in chunk, "".join(log[-30:])


def test_lcbuild_images_runs_in_the_builder_image(built: Built, docker_client: Any,
                                                  base_image: str, registry: Registry,
                                                  tmp_path: Path) -> None:
    build_builder(docker_client, base_image)
    app_file = copy_app(tmp_path / "app")
    handler = app_file.parent / "examples/sitegen/toc/toc.py"
    handler.write_text(handler.read_text() + f"# edited in the builder {uuid.uuid4()}\n")
    app_dir = str(app_file.parent)
    volumes = {SOCKET: {"bind": SOCKET, "mode": "rw"}, app_dir: {"bind": app_dir, "mode": "rw"}}
    command = ["images", "--push", "--json", "--registry", registry.address,
               "--app", str(app_file)]
    if HOST_CA_BUNDLE.is_file():
        volumes[str(HOST_CA_BUNDLE)] = {"bind": "/etc/lcbuild/ca.pem", "mode": "ro"}
        command += ["--ca-cert", "/etc/lcbuild/ca.pem"]
    container = docker_client.containers.run(
        BUILDER_TAG, command=command, detach=True, network_mode="host", volumes=volumes,
        environment={"LCBUILD_BASE_IMAGE": base_image}, working_dir=app_dir)
    try:
        exit_code = container.wait(timeout=300)["StatusCode"]
        stdout = container.logs(stdout=True, stderr=False).decode()
        stderr = container.logs(stdout=False, stderr=True).decode()
    finally:
        container.remove(force=True)
    assert exit_code == 0, stderr[-3000:]
    result = json.loads(stdout)
    status = {i["name"]: i["status"] for i in result["images"]}
    assert status == {"ingest": "skipped", "render": "skipped", "search-index": "skipped",
                      "toc": "pushed", "publish": "skipped", "coordinator": "skipped"}
    entries = manifest.read(manifest.path_for(app_file.parent))
    assert registry.head(entries["toc"]["repository"], entries["toc"]["tag"]) == \
        entries["toc"]["digest"]
    assert "[toc] step" in stderr  # plain progress lines, not a TTY
