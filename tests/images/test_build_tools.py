"""The build tools step is left out where it would do nothing, against a real engine: what the
base image holds is read from its file system (nothing of it runs), and a dependency stage
takes its lean context on a base with gcc and apt-get, its full one (with the tools step) on a
base without them."""

from __future__ import annotations

import io
import uuid
from typing import Any

from lambda_complex.builder.images import build, dockerfile
from lambda_complex.builder.images.context import Entry
from lambda_complex.builder.images.pipeline import _Executor
from lambda_complex.builder.images.progress import NullReporter
from lambda_complex.builder.images.specs import Lean, Stage


def _without_gcc(docker_client: Any, base: str) -> str:
    tag = f"lambda-complex/test-no-gcc:{uuid.uuid4().hex[:12]}"
    docker_client.images.build(fileobj=io.BytesIO(f"FROM {base}\nRUN rm /usr/bin/gcc\n".encode()),
                               tag=tag, rm=True, forcerm=True)
    return tag


def _context(base: str, marker: str) -> tuple[Entry, ...]:
    return (Entry("Dockerfile", f"FROM {base}\nRUN echo {marker} > /marker\n".encode()),)


def test_the_build_tools_are_read_from_the_base_image(docker_client: Any,
                                                      base_image: str) -> None:
    engine = build.Engine(docker_client)
    containers = len(docker_client.containers.list(all=True))
    present = engine.paths_present(base_image, dockerfile.BUILD_TOOL_PATHS)
    assert present == {dockerfile.GCC, dockerfile.APT_GET}  # the Debian stand-in
    assert dockerfile.has_build_tools(present)
    bare = _without_gcc(docker_client, base_image)
    try:
        assert not dockerfile.has_build_tools(
            engine.paths_present(bare, dockerfile.BUILD_TOOL_PATHS))
    finally:
        docker_client.images.remove(bare, force=True)
    assert len(docker_client.containers.list(all=True)) == containers  # none left behind
    # an image the engine cannot open shows nothing: the full stage, never a failed build
    assert engine.paths_present("lambda-complex/no-such-image:x", dockerfile.BUILD_TOOL_PATHS) \
        == frozenset()


def test_a_stage_takes_its_lean_context_only_on_a_base_with_the_tools(
        docker_client: Any, base_image: str) -> None:
    engine = build.Engine(docker_client)
    bare = _without_gcc(docker_client, base_image)
    tags = []
    try:
        for probed, expected in ((base_image, "lean"), (bare, "full")):
            tag = f"lambda-complex/test-stage:{uuid.uuid4().hex[:12]}"
            tags.append(tag)
            stage = Stage(tag, "linux/amd64", _context(base_image, "full"),
                          lean=Lean(probed, _context(base_image, "lean")))
            executor = _Executor(engine, None, NullReporter(), push=False)  # type: ignore[arg-type]
            executor.ensure_stage(stage, "test", "dependency stage")
            out = docker_client.containers.run(tag, entrypoint=["cat", "/marker"],
                                               network_mode="none", remove=True)
            assert out.decode().strip() == expected, probed
    finally:
        for tag in [*tags, bare]:
            docker_client.images.remove(tag, force=True)
