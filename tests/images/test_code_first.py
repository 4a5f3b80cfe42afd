"""A cold build compiles the code of the components it builds in one stage while the runtime
base and pip build, then each image copies its folder (dockerfile.component_from_stages),
against a real engine: each image holds the same files under the same tag as the usual
build's, its bytecode is the one Python uses, no code stage is left behind, and a syntax error
fails only the component whose code it is, with the compiler's message."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.images import pipeline as api
from tests.images.conftest import copy_app

LISTING = "find /var/task -printf '%P %s %m\\n' | sort"
# `python3 -v` names the bytecode it loads; a stale .pyc would be recompiled instead ("bytecode
# is stale"), and a read-only Lambda file system would redo that at every cold start.
IMPORT = "cd /var/task && python3 -v -c 'import render' 2>&1"


def _own_dependency_stage(tmp_path: Path) -> Path:
    """The example with render's requirements made unique: its dependency stage is not in the
    engine yet, whatever earlier sessions built."""
    app_file = copy_app(tmp_path / "app")
    requirements = app_file.parent / "examples/sitegen/render/requirements.txt"
    requirements.write_text(requirements.read_text() + f"# {uuid.uuid4()}\n")
    return app_file


def _shell(docker_client: Any, image: str, command: str) -> str:
    out = docker_client.containers.run(image, entrypoint=["sh", "-c", command],
                                       network_mode="none", remove=True)
    return str(out.decode())


def test_a_cold_build_copies_the_code_compiled_beside_pip(
        tmp_path: Path, docker_client: Any, base_image: str, ca_certs: tuple[Path, ...]) -> None:
    app_file = _own_dependency_stage(tmp_path)
    options = api.Options(base_image=base_image, ca_certs=ca_certs)
    cold = api.build_images(app_load.load(app_file), options)
    assert cold.ok, [(i.error, i.log_tail) for i in cold.images]
    render = cold.image("render")
    assert render.steps == 3  # FROM, the dependencies' copy, the compiled code's copy
    assert not docker_client.images.list(name="lambda-complex/code")
    ref = f"{render.repository}:{render.tag}"
    cold_files = _shell(docker_client, ref, LISTING)
    assert "render.py " in cold_files and "__pycache__/render.cpython-" in cold_files
    assert "markupsafe/__init__.py " in cold_files
    # a code-only component built in the same run: FROM and its compiled folder's copy
    toc = cold.image("toc")
    if toc.status == "built":  # (an earlier test may have built the same toc image)
        assert toc.steps == 2
    toc_ref = f"{toc.repository}:{toc.tag}"
    toc_files = _shell(docker_client, toc_ref, LISTING)
    assert "__pycache__/toc.cpython-" in toc_files, toc_files

    # The usual build of the same inputs, now that the stage exists: the same tag and files.
    docker_client.images.remove(ref)
    usual = api.build_images(app_load.load(app_file), options).image("render")
    assert usual.status == "built" and usual.tag == render.tag
    assert usual.steps == 4  # FROM, the dependencies' copy, the code's copy, its compilation
    assert _shell(docker_client, ref, LISTING) == cold_files
    imported = _shell(docker_client, ref, IMPORT)
    assert "code object from '/var/task/__pycache__/render.cpython-" in imported, imported
    assert "matches /var/task/markupsafe/__init__.py" in imported
    docker_client.images.remove(toc_ref)
    usual_toc = api.build_images(app_load.load(app_file), options).image("toc")
    assert usual_toc.status == "built" and usual_toc.tag == toc.tag and usual_toc.steps == 3
    assert _shell(docker_client, toc_ref, LISTING) == toc_files


def test_a_cold_build_of_two_code_only_components_compiles_both_in_one_stage(
        tmp_path: Path, docker_client: Any, base_image: str, ca_certs: tuple[Path, ...]) -> None:
    app_file = copy_app(tmp_path / "app")
    for name in ("toc", "publish"):  # changed code: images no earlier test built
        handler = app_file.parent / f"examples/sitegen/{name}/{name}.py"
        handler.write_text(handler.read_text() + f"# {uuid.uuid4()}\n")
    result = api.build_images(app_load.load(app_file),
                              api.Options(base_image=base_image, ca_certs=ca_certs))
    assert result.ok, [(i.error, i.log_tail) for i in result.images]
    for name in ("toc", "publish"):
        image = result.image(name)
        assert image.status == "built" and image.steps == 2, (name, image.steps)
        imported = _shell(docker_client, f"{image.repository}:{image.tag}",
                          f"cd /var/task && python3 -v -c 'import {name}' 2>&1")
        assert f"code object from '/var/task/__pycache__/{name}.cpython-" in imported, imported
    assert not docker_client.images.list(name="lambda-complex/code")


def test_the_cold_build_of_code_that_does_not_compile_fails_with_the_compiler_message(
        tmp_path: Path, docker_client: Any, base_image: str, ca_certs: tuple[Path, ...]) -> None:
    app_file = _own_dependency_stage(tmp_path)
    # the handler module is parsed by validation: the broken file is another of render's
    (app_file.parent / "examples/sitegen/render/render_helpers.py").write_text(
        "def helper(event)\n    return event\n")
    result = api.build_images(app_load.load(app_file),
                              api.Options(base_image=base_image, ca_certs=ca_certs))
    render = result.image("render")
    assert render.status == "failed"
    assert render.log_tail is not None and "SyntaxError" in render.log_tail
    assert "render_helpers.py" in render.log_tail
    # the shared stage failed; every other component was built the usual way
    assert all(result.image(n).status in {"built", "skipped"}
               for n in ("ingest", "toc", "publish", "coordinator")), result.images
    assert not docker_client.images.list(name="lambda-complex/code")
