"""The build tools step is left out where it would do nothing, against a real engine: what the
base image holds is read from its file system (nothing of it runs), and a dependency stage
takes its lean context on a base with gcc and apt-get, its full one (with the tools step) on a
base without them."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from lambda_complex.builder.images import base_files, build, dockerfile
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
        without_gcc = engine.paths_present(bare, dockerfile.BUILD_TOOL_PATHS)
        assert without_gcc == {dockerfile.APT_GET}
        assert not dockerfile.has_build_tools(without_gcc)
    finally:
        docker_client.images.remove(bare, force=True)
    assert len(docker_client.containers.list(all=True)) == containers  # none left behind
    # an image the engine cannot open tells nothing (the full stage), never a failed build
    assert engine.paths_present("lambda-complex/no-such-image:x",
                                dockerfile.BUILD_TOOL_PATHS) is None


def test_a_stage_takes_its_lean_context_only_on_a_base_with_the_tools(
        docker_client: Any, base_image: str, tmp_path: Path) -> None:
    engine = build.Engine(docker_client)
    bare = _without_gcc(docker_client, base_image)
    tags = []
    try:
        for probed, expected in ((base_image, "lean"), (bare, "full")):
            tag = f"lambda-complex/test-stage:{uuid.uuid4().hex[:12]}"
            tags.append(tag)
            stage = Stage(tag, "linux/amd64", _context(base_image, "full"),
                          lean=Lean(probed, _context(base_image, "lean")))
            executor = _Executor(engine, None, NullReporter(),  # type: ignore[arg-type]
                                 push=False, state=tmp_path)
            executor.ensure_stage(stage, "test", "dependency stage")
            out = docker_client.containers.run(tag, entrypoint=["cat", "/marker"],
                                               network_mode="none", remove=True)
            assert out.decode().strip() == expected, probed
    finally:
        for tag in [*tags, bare]:
            docker_client.images.remove(tag, force=True)


def test_what_a_base_holds_is_read_once_per_set_of_layers(
        docker_client: Any, base_image: str, tmp_path: Path) -> None:
    """The read is remembered under the image's layers: a child that only adds a LABEL has the
    same files, so what is remembered for those layers decides, and nothing is read again."""
    engine = build.Engine(docker_client)
    paths = dockerfile.BUILD_TOOL_PATHS

    def stage_over(base: str, state: Path) -> str:
        tag = f"lambda-complex/test-stage:{uuid.uuid4().hex[:12]}"
        stage = Stage(tag, "linux/amd64", _context(base_image, "full"),
                      lean=Lean(base, _context(base_image, "lean")))
        _Executor(engine, None, NullReporter(),  # type: ignore[arg-type]
                  push=False, state=state).ensure_stage(stage, "test", "dependency stage")
        try:
            return str(docker_client.containers.run(
                tag, entrypoint=["cat", "/marker"], network_mode="none", remove=True
            ).decode().strip())
        finally:
            docker_client.images.remove(tag, force=True)

    assert stage_over(base_image, tmp_path) == "lean"
    entry = base_files.key(engine.layers(base_image), paths)
    assert base_files.recall(tmp_path, entry) == {dockerfile.GCC, dockerfile.APT_GET}

    child = f"lambda-complex/test-label-child:{uuid.uuid4().hex[:12]}"
    docker_client.images.build(fileobj=io.BytesIO(
        f"FROM {base_image}\nLABEL test.fresh={uuid.uuid4().hex}\n".encode()), tag=child, rm=True)
    try:
        assert engine.layers(child) == engine.layers(base_image)
        # An entry that says "no tools" for those layers is believed: the full stage, although
        # the child has them (the only way to see that the engine was not asked again).
        planted = tmp_path / "planted"
        base_files.remember(planted, entry, frozenset())
        assert stage_over(child, planted) == "full"
        assert stage_over(child, tmp_path) == "lean"
    finally:
        docker_client.images.remove(child, force=True)
