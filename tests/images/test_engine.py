"""The image builder against a real Docker engine, the real awslambdaric and a loopback
registry. The example application is built and pushed once per session (conftest `built`);
tests that change it work on their own copy."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.cli import cli
from lambda_complex.builder.images import manifest
from lambda_complex.builder.images import pipeline as api
from lambda_complex.runtime import config
from tests.images.conftest import Built, Registry, copy_app
from tests.images.runtime_api import RuntimeApi

IMAGES = {"ingest", "render", "search-index", "toc", "publish", "coordinator"}


def rebuild(app_file: Path, options: api.Options, **changes: Any) -> api.Result:
    return api.build_images(app_load.load(app_file), dataclasses.replace(options, **changes))


def copy_built(built: Built, destination: Path) -> Path:
    """A copy of the built application, manifest included (so reasons compare with it)."""
    app_file = copy_app(destination)
    shutil.copytree(built.app_file.parent / ".lcbuild", destination / ".lcbuild")
    return app_file


def test_every_image_is_built_and_pushed_by_digest(built: Built, registry: Registry) -> None:
    assert {i.name: i.status for i in built.result.images} == dict.fromkeys(IMAGES, "pushed")
    entries = manifest.read(manifest.path_for(built.app_file.parent))
    assert set(entries) == IMAGES
    for name, entry in entries.items():
        assert entry["repository"] == f"{registry.address}/sitegen/{name}"
        # the registry's digest (HEAD with the v2 Accept type) is the recorded one
        assert registry.head(entry["repository"], entry["tag"]) == entry["digest"]
        assert entry["uri"] == f"{entry['repository']}@{entry['digest']}"
        assert entry["digest"].startswith("sha256:")
    # the four components without requirements share one dependency stage
    shared = [m for m in built.result.plan.dependency_sets.values() if len(m) > 1]
    assert shared == [("ingest", "search-index", "toc", "publish")]


def test_images_have_the_runtime_config_and_command(built: Built, docker_client: Any) -> None:
    render = built.result.image("render")
    image = docker_client.images.get(render.image_id)
    assert image.attrs["Config"]["Cmd"] == ["lambda_complex.runtime.wrapper.handler"]
    assert image.attrs["Architecture"] == "amd64"
    out = docker_client.containers.run(
        render.image_id, entrypoint=["python3", "-c"], network_mode="none", remove=True,
        command=["import json, os, sys; print(json.load(open('lambda_complex_config.json'))"
                 "['component']); print(sorted(os.listdir('.')));"
                 "import lambda_complex.runtime.config"])
    component, listing = out.decode().splitlines()
    assert component == "render"
    assert "markupsafe" in listing and "render.py" in listing and "requirements.txt" not in listing
    coordinator = docker_client.images.get(built.result.image("coordinator").image_id)
    assert coordinator.attrs["Config"]["Cmd"] == ["lambda_complex.runtime.coordinator.handler"]


def test_no_compiler_or_ca_left_in_the_final_image(built: Built, docker_client: Any) -> None:
    out = docker_client.containers.run(
        built.result.image("render").image_id, entrypoint=["sh", "-c"], network_mode="none",
        remove=True, command=["ls /opt/lcbuild 2>&1; echo PIP_CERT=${PIP_CERT:-none}"])
    assert "No such file" in out.decode() and "PIP_CERT=none" in out.decode()


def test_render_image_answers_through_awslambdaric(built: Built, docker_client: Any) -> None:
    # The wrapper (CMD) belongs to the runtime package; here the user's handler itself runs, so
    # this checks the image: Python path, compiled dependency, runtime interface client.
    event = {"site": "demo", "slug": "hello", "title": "Hi <you>", "body": "one\n\n## two"}
    with RuntimeApi() as runtime_api:
        container = docker_client.containers.run(
            built.result.image("render").image_id, command=["render.handler"], detach=True,
            network_mode="host", read_only=True, tmpfs={"/tmp": ""},
            environment={"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime_api.port}"})
        try:
            kind, payload = runtime_api.invoke(event)
        finally:
            logs = container.logs().decode()
            container.remove(force=True)
    assert kind == "response", (payload, logs)
    assert payload["speedups"] is True  # MarkupSafe's C extension, compiled in the image
    assert "<h1>Hi &lt;you&gt;</h1>" in payload["html"]


def test_rebuild_with_nothing_changed_builds_and_pushes_nothing(built: Built) -> None:
    result = rebuild(built.app_file, built.options)
    assert result.ok and result.plan.changes_nothing
    assert {i.status for i in result.images} == {"skipped"}
    assert all("already in the registry" in i.reason for i in result.images)
    again = manifest.read(manifest.path_for(built.app_file.parent))
    assert {n: e["digest"] for n, e in again.items()} == {
        i.name: i.digest for i in built.result.images}


@pytest.mark.timing
def test_rebuild_with_nothing_changed_takes_under_five_seconds(built: Built) -> None:
    """Nothing is built: the plan hashes inputs and asks the registry, a few HEADs per image."""
    started = time.monotonic()
    result = rebuild(built.app_file, built.options)
    elapsed = time.monotonic() - started
    assert result.ok and result.plan.changes_nothing
    assert elapsed < 5, elapsed


def test_editing_one_handler_rebuilds_only_that_component(built: Built, tmp_path: Path,
                                                          docker_client: Any,
                                                          registry: Registry) -> None:
    app_file = copy_built(built, tmp_path / "app")
    handler = app_file.parent / "examples/sitegen/render/render.py"
    # a unique edit: the engine keeps images between sessions
    edit = f"return {{  # edited {uuid.uuid4()}\n"
    handler.write_text(handler.read_text().replace("return {\n", edit, 1))
    dry = rebuild(app_file, built.options, dry_run=True)
    assert {p.name: p.action.value for p in dry.plan.images} == {
        **dict.fromkeys(IMAGES, "skip"), "render": "build"}
    assert dry.image("render").reason == "changed: code"
    deps_images = {i.id for i in docker_client.images.list(name="lambda-complex/deps")}
    result = rebuild(app_file, built.options)
    assert result.ok
    render = result.image("render")
    assert render.status == "pushed"
    assert render.tag != built.result.image("render").tag
    assert registry.head(render.repository, render.tag) == render.digest
    # the dependency stage was reused: no new dependency image, and the final image's
    # dependency layer came from the cache
    assert {i.id for i in docker_client.images.list(name="lambda-complex/deps")} == deps_images
    assert render.cached_steps is not None and render.cached_steps >= 1  # the deps COPY
    # Every layer below the code, the dependencies' included, is the same; the edit's code and
    # bytecode are new. (A first build that made the dependency stage copied the code compiled
    # in a stage of its own, one layer; the edit copies and compiles, two.)
    old = docker_client.images.get(built.result.image("render").image_id).attrs["RootFS"]
    new = docker_client.images.get(render.image_id).attrs["RootFS"]
    below_code = len(new["Layers"]) - 2
    assert old["Layers"][:below_code] == new["Layers"][:below_code]
    assert not set(old["Layers"][below_code:]) & set(new["Layers"][below_code:])
    entries = manifest.read(manifest.path_for(app_file.parent))
    assert entries["render"]["digest"] == render.digest


def test_failures_fail_only_their_component(built: Built, tmp_path: Path) -> None:
    app_file = copy_built(built, tmp_path / "app")
    folder = app_file.parent / "examples/sitegen"
    (folder / "render/requirements.txt").write_text("lcbuild-no-such-package-xyz==0.0.1\n")
    # validate parses the handler module itself: the broken file is another module of toc's
    (folder / "toc/toc_helpers.py").write_text("def helper(event)\n    return event\n")
    (folder / "ingest/ingest.py").write_text(
        (folder / "ingest/ingest.py").read_text() + f"# still fine {uuid.uuid4()}\n")
    options = dataclasses.replace(built.options, push=False)
    runner = CliRunner()
    args = ["images", "--app", str(app_file), "--registry", options.registry or "",
            "--base-image", options.base_image or "", "--json"]
    for ca in options.ca_certs:
        args += ["--ca-cert", str(ca)]
    outcome = runner.invoke(cli, args)
    assert outcome.exit_code == 1, outcome.output
    result = json.loads(outcome.stdout)
    status = {i["name"]: i["status"] for i in result["images"]}
    assert status["render"] == status["toc"] == "failed"
    assert status["ingest"] == "built"
    assert {status[n] for n in ("search-index", "publish", "coordinator")} <= {"built", "skipped"}
    by_name = {i["name"]: i for i in result["images"]}
    assert by_name["render"]["error"].startswith("render: dependency stage failed")
    assert "lcbuild-no-such-package-xyz" in by_name["render"]["log_tail"]
    assert by_name["toc"]["error"].startswith("toc: ")
    assert "SyntaxError" in by_name["toc"]["log_tail"]
    entries = manifest.read(manifest.path_for(app_file.parent))
    assert "render" not in entries and "toc" not in entries and "ingest" in entries
    # human output names the component and shows the log tail
    human = runner.invoke(cli, [a for a in args if a != "--json"])
    assert human.exit_code == 1
    assert "FAILED toc:" in human.stderr and "SyntaxError" in human.stderr


def test_docker_unreachable_is_one_clear_sentence(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh copy of the example: the first thing `images` needs is the engine, built or not.
    app_file = copy_app(tmp_path / "app")
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    outcome = CliRunner().invoke(cli, ["images", "--app", str(app_file), "--dry-run"])
    assert outcome.exit_code == 1
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Docker is not reachable: start")
    assert "DOCKER_HOST" in lines[0] and "Traceback" not in outcome.output


def test_dry_run_changes_nothing(built: Built, tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")  # no manifest yet: every image is "new"
    handler = app_file.parent / "examples/sitegen/publish/publish.py"
    handler.write_text(handler.read_text() + "# edited\n")
    ca_args = [arg for c in built.options.ca_certs for arg in ("--ca-cert", str(c))]
    outcome = CliRunner().invoke(cli, [
        "images", "--app", str(app_file), "--push", "--dry-run",
        "--registry", built.options.registry or "", "--base-image",
        built.options.base_image or "", *ca_args])
    assert outcome.exit_code == 0, outcome.output
    assert "publish          build new image" in outcome.stdout
    assert "render           skip  tag" in outcome.stdout
    assert not (app_file.parent / ".lcbuild").exists()


def test_config_file_name_is_the_runtime_s(built: Built) -> None:
    assert config.CONFIG_FILE_NAME == "lambda_complex_config.json"
