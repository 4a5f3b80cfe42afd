"""Planning, rendering and hashing without Docker: fast, deterministic."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.images import context, dockerfile, manifest, pipeline, registry
from lambda_complex.builder.images import decisions as plan
from lambda_complex.builder.images.decisions import Action, Facts, ImageSpec
from lambda_complex.builder.images.specs import SpecBuilder
from tests.images.conftest import copy_app

INPUTS = {"base": "b", "runtime": "r", "dependencies": "d", "dockerfile": "f", "code": "c",
          "config": "g", "platform": "linux/amd64", "build": "x"}


def spec(**changes: str) -> ImageSpec:
    return ImageSpec("render", "lambda-complex/sitegen/render", "127.0.0.1:5000/sitegen/render",
                     "linux/amd64", {**INPUTS, **changes})


# --- context ------------------------------------------------------------------------------

def test_collect_applies_default_and_lcbuildignore_rules(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"x")
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    (tmp_path / "stray.pyc").write_bytes(b"x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_m.py").write_text("")
    (tmp_path / "notes.md").write_text("")
    (tmp_path / "handler.py").write_text("def handler(e, c): return e\n")
    (tmp_path / "requirements.txt").write_text("markupsafe\n")
    (tmp_path / ".lcbuildignore").write_text("# comment\ntests/\n*.md\n")
    names = [e.name for e in context.collect(tmp_path)]
    assert names == ["handler.py", "pkg/m.py", "requirements.txt"]
    assert [e.name for e in context.code_files(tmp_path, "code/")] == [
        "code/handler.py", "code/pkg/m.py"]
    assert [e.name for e in context.dependency_files(tmp_path, "requirements/")] == [
        "requirements/requirements.txt"]


SECRETS = (".env", ".env.production", ".envrc", ".aws/credentials", ".aws/config",
           ".ssh/id_ed25519", "id_rsa", "id_rsa.pub", "id_ecdsa", "id_ed25519", "keys/id_ed25519",
           "server.pem", "tls/server.key", ".git/config", ".netrc", ".pypirc")


def test_secrets_are_ignored_by_default(tmp_path: Path) -> None:
    for rel in (*SECRETS, "handler.py", "pkg/environment.py", "keys/public.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert [e.name for e in context.collect(tmp_path)] == [
        "handler.py", "keys/public.txt", "pkg/environment.py"]


def test_dockerignore_is_read_and_lcbuildignore_decides(tmp_path: Path) -> None:
    for rel in ("handler.py", "docs/a.md", "data/big.bin", "data/keep.bin", "ca/corp.pem",
                ".git/HEAD"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / ".dockerignore").write_text("docs\ndata/*.bin\n")
    (tmp_path / ".lcbuildignore").write_text("!data/keep.bin\n!ca/corp.pem\n!.git/\n")
    # `!` brings back what .dockerignore and even a default left out, never VCS data
    assert [e.name for e in context.collect(tmp_path)] == [
        "ca/corp.pem", "data/keep.bin", "handler.py"]


def test_digest_depends_on_content_name_and_mode_not_order() -> None:
    a, b = context.Entry("a.py", b"1"), context.Entry("b.py", b"2")
    assert context.digest([a, b]) == context.digest([b, a])
    assert context.digest([a]) != context.digest([context.Entry("a.py", b"2")])
    assert context.digest([a]) != context.digest([context.Entry("c.py", b"1")])
    assert context.digest([a]) != context.digest([context.Entry("a.py", b"1", executable=True)])


def test_tar_is_deterministic_and_normalised() -> None:
    entries = [context.Entry("b", b"2"), context.Entry("a/x.sh", b"#!", executable=True)]
    one, two = context.tar(entries), context.tar(list(reversed(entries)))
    assert one == two
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(one)) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["a/x.sh", "b"]
    assert {m.mtime for m in members} == {context.FIXED_MTIME}
    assert [m.mode for m in members] == [0o755, 0o644]


# --- dockerfile ---------------------------------------------------------------------------

def test_dockerfile_base_pins_the_lambda_base_by_digest() -> None:
    text = dockerfile.read_dockerfile_base()
    default = dockerfile.default_base_image(text)
    assert re.fullmatch(r"public\.ecr\.aws/lambda/python:3\.1\d@sha256:[0-9a-f]{64}", default)
    assert "COPY lambda_complex/ ${LAMBDA_TASK_ROOT}/lambda_complex/" in text


def test_runtime_base_runs_the_wrapper_for_every_component_image() -> None:
    text = dockerfile.runtime_base(dockerfile.read_dockerfile_base())
    assert text.startswith(dockerfile.read_dockerfile_base().rstrip())
    assert text.splitlines()[-1] == 'CMD ["lambda_complex.runtime.wrapper.handler"]'


def test_component_dockerfile_copies_the_dependencies_then_the_code_last() -> None:
    text = dockerfile.component("DEPS", "RUNTIME", True, "lambda_complex_config.json",
                                ("render.py", "templates"))
    lines = text.splitlines()
    steps = [line for line in lines if not line.startswith("#")]
    assert steps[0] == "FROM RUNTIME" and "FROM DEPS" not in text  # one stage: no extra FROM
    assert "COPY --from=DEPS /opt/lcbuild/deps/ ${LAMBDA_TASK_ROOT}/" in lines
    assert not any(line.startswith(("CMD", "LABEL")) for line in lines)  # CMD: the runtime base's
    # the code and config, then their bytecode, are the last layers: a handler edit leaves
    # every layer before them cached
    assert steps[-2:] == [
        "COPY task/ lambda_complex_config.json ${LAMBDA_TASK_ROOT}/",
        "RUN python3 -m compileall -q ${LAMBDA_TASK_ROOT}/render.py ${LAMBDA_TASK_ROOT}/templates"]
    # three steps after FROM, and the final image never sees a CA nor an ENV of the build
    assert len(steps) == 4
    assert not any(line.startswith("ENV") or "ca" in line.split() for line in steps)
    without = dockerfile.component("DEPS", "RUNTIME", False, "lambda_complex_config.json",
                                   ("x.py",))
    assert "/opt/lcbuild/deps/" not in without and "DEPS" not in without


def _steps(entries: tuple[context.Entry, ...]) -> list[str]:
    text = dict((e.name, e.data) for e in entries)["Dockerfile"].decode()
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_a_run_compiles_the_code_of_every_component_it_builds_in_one_stage(
        tmp_path: Path) -> None:
    b = builder_for(copy_app(tmp_path / "app"))
    jobs = {c.name: b.component(c) for c in b.app.components}
    jobs["coordinator"] = b.coordinator()
    everything = list(jobs.values())
    groups = pipeline.code_stage_groups(everything, missing_deps=())
    # every component with code, on one platform: one stage; the coordinator has no own code
    assert [sorted(j.spec.name for j in g) for g in groups] == [
        sorted(c.name for c in b.app.components)]
    staged = {job.spec.name: job for job in b.with_code_stage(groups[0])}
    stage = staged["render"].code_stage
    assert stage is not None and all(j.code_stage == stage for j in staged.values())
    steps = _steps(stage.entries)
    # grown from the base image, so it builds while the runtime base and pip do: one copy, one
    # compiling step for all, each file compiled as if it were where the usual build compiles it
    assert steps[:2] == [f"FROM {b.base_ref}", "COPY code/ /opt/lcbuild/code/"]
    assert len(steps) == 3
    assert ("python3 -m compileall -q -s /opt/lcbuild/code/render -p ${LAMBDA_TASK_ROOT} "
            "/opt/lcbuild/code/render/render.py") in steps[2]
    # each member's files are the ones its usual build copies into TASK_ROOT
    render = staged["render"]
    usual_files = {e.name.removeprefix("task/"): e.data for e in render.entries
                   if e.name != "Dockerfile"}
    assert {e.name.removeprefix("code/render/"): e.data for e in stage.entries
            if e.name.startswith("code/render/")} == usual_files
    # the image: its dependencies' copy (the usual image's, so the next edit reuses that
    # layer), then its compiled folder; a code-only image is two steps
    usual = _steps(render.entries)
    image = _steps(render.from_code_stage())
    assert [e.name for e in render.from_code_stage()] == ["Dockerfile"]
    assert render.deps is not None
    assert image[:2] == usual[:2] == [f"FROM {render.runtime.tag}",
                                      f"COPY --from={render.deps.tag} /opt/lcbuild/deps/ "
                                      "${LAMBDA_TASK_ROOT}/"]
    assert image[2:] == [
        f"COPY --from={stage.tag} /opt/lcbuild/code/render/ ${{LAMBDA_TASK_ROOT}}/"]
    assert _steps(staged["toc"].from_code_stage()) == [
        f"FROM {staged['toc'].runtime.tag}",
        f"COPY --from={stage.tag} /opt/lcbuild/code/toc/ ${{LAMBDA_TASK_ROOT}}/"]


def test_a_lone_component_uses_a_code_stage_only_while_its_dependency_stage_builds(
        tmp_path: Path) -> None:
    b = builder_for(copy_app(tmp_path / "app"))
    jobs = {c.name: b.component(c) for c in b.app.components}
    render, toc = jobs["render"], jobs["toc"]
    assert render.deps is not None and toc.deps is None
    # its code compiles while pip runs: after pip, two copies instead of three steps
    assert pipeline.code_stage_groups([render], {render.deps.tag}) == [[render]]
    # otherwise the usual two steps, to which a stage would add one
    assert pipeline.code_stage_groups([render], ()) == []
    assert pipeline.code_stage_groups([toc], {render.deps.tag}) == []


def test_pip_compiles_nothing_and_the_installed_files_are_compiled_in_parallel() -> None:
    run = next(line for line in dockerfile.dependencies("BASE", (), True, has_ca=False)
               .splitlines() if "pip install" in line)
    pip, compile_ = run.split(" && ")
    # the variable reaches the pip that fills a source package's build environment
    assert pip.startswith("RUN PIP_COMPILE=0 python3 -m pip install ")
    # pip's failure fails the step; a file that does not compile does not (as with pip)
    assert compile_ == "(python3 -m compileall -qq -j 0 /opt/lcbuild/deps || true)"


def test_dependency_stage_installs_build_tools_then_requirements() -> None:
    text = dockerfile.dependencies("RUNTIME", ("libxml2-devel",), True, has_ca=True)
    assert "dnf install -y gcc gcc-c++ make $pkgs" in text and "apt-get" in text
    assert 'pkgs="libxml2-devel"' in text
    assert "PIP_CERT=/opt/lcbuild/ca-bundle.pem" in text
    assert text.index("COPY requirements/") < text.index("pip install")
    assert "--target /opt/lcbuild/deps" in text
    # the CA bundle is made in the build tools' step, and exported there: no ENV in the stage
    steps = [line for line in text.splitlines() if not line.startswith("#")]
    assert [line.split()[0] for line in steps] == ["FROM", "COPY", "RUN", "COPY", "RUN"]
    assert "ca-bundle.pem" in steps[2] and "dnf install" in steps[2]
    plain = dockerfile.dependencies("RUNTIME", (), True, has_ca=False)
    assert "PIP_CERT" not in plain and "/opt/lcbuild/ca" not in plain
    assert not dockerfile.needs_dependency_stage(False)


def test_on_a_base_with_its_build_tools_the_dependency_stage_is_two_steps_shorter() -> None:
    full = dockerfile.dependencies("BASE", (), True, has_ca=False)
    lean = dockerfile.lean_dependencies("BASE", True, has_ca=True)
    steps = [line for line in lean.splitlines() if not line.startswith("#")]
    assert [line.split()[0] for line in steps] == ["FROM", "COPY", "RUN"]
    assert steps[1] == "COPY stage/ /opt/lcbuild/"  # requirements/ and ca/ in one step
    # the same CA bundle and the same pip command as the full stage, with no tools step
    pip = next(line for line in full.splitlines() if "pip install" in line)
    assert steps[2].endswith(pip.removeprefix("RUN ")) and "export PIP_CERT=" in steps[2]
    assert "apt-get" not in lean and "dnf" not in lean
    plain = dockerfile.lean_dependencies("BASE", False, has_ca=False)
    assert plain.splitlines()[-1] == "RUN mkdir -p /opt/lcbuild/deps"
    # the tools step would do nothing only on an apt-get base that has gcc
    g, apt, dnf, micro = dockerfile.GCC, dockerfile.APT_GET, dockerfile.DNF, dockerfile.MICRODNF
    assert dockerfile.has_build_tools(frozenset({g, apt}))
    for present in ({apt}, {g}, {g, apt, dnf}, {g, apt, micro}, {g, micro}, set()):
        assert not dockerfile.has_build_tools(frozenset(present)), present


def test_a_dependency_stage_without_system_packages_has_a_lean_context(tmp_path: Path) -> None:
    b = builder_for(copy_app(tmp_path / "app"))
    (render,) = [b.component(c) for c in b.app.components if c.name == "render"]
    assert render.deps is not None and render.deps.lean is not None
    lean = {e.name: e.data for e in render.deps.lean.entries}
    full = {e.name: e.data for e in render.deps.entries}
    assert lean.pop("Dockerfile").startswith(b"# Rendered by lcbuild: the dependency stage on a")
    full.pop("Dockerfile")
    assert lean == {f"stage/{name}": data for name, data in full.items()}  # the same files
    assert render.deps.lean.base == b.base_ref


def test_coordinator_dockerfile() -> None:
    text = dockerfile.coordinator("RUNTIME", "lambda_complex_config.json")
    assert 'CMD ["lambda_complex.runtime.coordinator.handler"]' in text
    assert "LABEL" not in text


# --- plan ---------------------------------------------------------------------------------

def test_tag_is_a_hash_of_every_input() -> None:
    tags = {spec().tag}
    for name in INPUTS:
        tags.add(spec(**{name: "changed"}).tag)
    assert len(tags) == len(INPUTS) + 1
    assert len(spec().tag) == plan.TAG_LENGTH


def test_decisions_with_push() -> None:
    previous = {"inputs": {**INPUTS, "code": "old"}}
    in_registry = plan.decide(spec(), Facts("sha256:" + "a" * 64, None), previous, push=True)
    assert in_registry.action is Action.SKIP and in_registry.digest
    local_only = plan.decide(spec(), Facts(None, "sha256:1"), previous, push=True)
    assert local_only.action is Action.PUSH
    missing = plan.decide(spec(), Facts(), previous, push=True)
    assert (missing.action, missing.reason) == (Action.BUILD, "changed: code")
    new = plan.decide(spec(), Facts(), None, push=True)
    assert new.reason.startswith("new image")
    same = plan.decide(spec(), Facts(), {"inputs": INPUTS}, push=True)
    assert "unchanged" in same.reason


def test_decisions_without_push_look_at_the_engine_only() -> None:
    assert plan.decide(spec(), Facts(None, "sha256:1"), None, False).action is Action.SKIP
    built = plan.decide(spec(config="new"), Facts(), {"inputs": INPUTS}, False)
    assert (built.action, built.reason) == (Action.BUILD, "changed: config")


def test_changed_inputs_in_stable_order() -> None:
    previous = {**INPUTS, "code": "0", "base": "0", "extra": "1"}
    assert plan.changed_inputs(INPUTS, previous) == ["base", "code", "extra"]


def test_plan_groups_dependency_sets() -> None:
    a = ImageSpec("a", "l/a", None, "linux/amd64", INPUTS, dependency_set="k1")
    b = ImageSpec("b", "l/b", None, "linux/amd64", INPUTS, dependency_set="k1")
    made = plan.make_plan([a, b], {}, {}, push=False)
    assert made.dependency_sets == {"k1": ("a", "b")}
    assert json.loads(json.dumps(made.to_dict()))["images"][0]["action"] == "build"


# --- specs: hashing the example application ----------------------------------------------

def builder_for(app_file: Path, ca: list[context.Entry] | None = None,
                base_id: str = "sha256:" + "0" * 64) -> SpecBuilder:
    app = app_load.load(app_file)
    repos: dict[str, str | None] = {n: None for n in (*app.component_names, "coordinator")}
    return SpecBuilder(app, base_ref="base", base_id=base_id,
                       dockerfile_base=dockerfile.read_dockerfile_base(), ca=ca or [],
                       registry_repo=repos)


def all_specs(b: SpecBuilder) -> dict[str, ImageSpec]:
    jobs = {c.name: b.component(c) for c in b.app.components}
    jobs["coordinator"] = b.coordinator()
    return {n: j.spec for n, j in jobs.items()}


def test_example_specs_share_one_dependency_set_for_the_plain_components(
        tmp_path: Path) -> None:
    b = builder_for(copy_app(tmp_path / "app"))
    specs = all_specs(b)
    plain = {s.dependency_set for n, s in specs.items() if n not in ("render", "coordinator")}
    assert len(plain) == 1 and specs["render"].dependency_set not in plain
    assert len({s.tag for s in specs.values()}) == len(specs)
    # nothing to install, no stage to build: only render's path has a dependency stage
    staged = {c.name for c in b.app.components if b.component(c).deps is not None}
    assert staged == {"render"}


def test_builds_start_with_the_longest_path_and_use_a_worker_per_core(
        tmp_path: Path) -> None:
    b = builder_for(copy_app(tmp_path / "app"))
    jobs = {c.name: b.component(c) for c in b.app.components}
    jobs["coordinator"] = b.coordinator()
    made = plan.make_plan([j.spec for j in jobs.values()], {}, {}, push=False)
    order = [made.images[i].name for i in pipeline.longest_first(made.images, jobs)]
    assert order == ["render", "ingest", "search-index", "toc", "publish", "coordinator"]
    assert [pipeline.default_jobs(n) for n in (1, 2, 8)] == [2, 2, 8]


def test_editing_one_handler_changes_only_that_component(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    before = all_specs(builder_for(app_file))
    handler = app_file.parent / "examples/sitegen/render/render.py"
    handler.write_text(handler.read_text() + "# edited\n")
    (app_file.parent / "examples/sitegen/toc/__pycache__").mkdir()
    (app_file.parent / "examples/sitegen/toc/__pycache__/toc.cpython-311.pyc").write_bytes(b"x")
    after = all_specs(builder_for(app_file))
    changed = {n for n in before if before[n].tag != after[n].tag}
    assert changed == {"render"}
    assert plan.changed_inputs(after["render"].inputs, before["render"].inputs) == ["code"]
    assert after["render"].dependency_set == before["render"].dependency_set


def test_base_and_requirements_are_inputs_ca_certificates_are_not(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    ref = all_specs(builder_for(app_file))
    other_base = all_specs(builder_for(app_file, base_id="sha256:" + "1" * 64))
    assert all(ref[n].tag != other_base[n].tag for n in ref)
    # A CA only lets pip through a proxy: same tags, same dependency stage, with or without it.
    ca = [context.Entry("ca/00.pem", b"-----BEGIN CERTIFICATE-----\n")]
    ca_builder = builder_for(app_file, ca=ca)
    with_ca = all_specs(ca_builder)
    assert {n: s.tag for n, s in with_ca.items()} == {n: s.tag for n, s in ref.items()}
    component = ca_builder.app.component("render")
    render = ca_builder.component(component)
    plain = builder_for(app_file).component(component)
    assert render.deps is not None and plain.deps is not None
    assert render.deps.tag == plain.deps.tag
    assert "ca/00.pem" in {e.name for e in render.deps.entries}  # it is still used to build
    req = app_file.parent / "examples/sitegen/render/requirements.txt"
    req.write_text(req.read_text() + "\n# a comment changes the file\n")
    edited = all_specs(builder_for(app_file))
    assert plan.changed_inputs(edited["render"].inputs, ref["render"].inputs) == [
        "dependencies"]


def test_ca_entries_must_be_pem(tmp_path: Path) -> None:
    from lambda_complex.builder.errors import UserError
    from lambda_complex.builder.images.specs import CaSource, ca_entries

    bad = tmp_path / "x.crt"
    bad.write_text("hello")
    with pytest.raises(UserError, match=r"^--ca-cert .*x\.crt: not a PEM"):
        ca_entries([CaSource(bad, "--ca-cert")])
    with pytest.raises(UserError, match=r"^LCBUILD_CA_CERT .*missing\.crt: cannot read"):
        ca_entries([CaSource(tmp_path / "missing.crt", "LCBUILD_CA_CERT")])


def test_ca_sources_from_the_environment_then_the_options(tmp_path: Path) -> None:
    import os

    from lambda_complex.builder.images.specs import CA_CERT_ENV, ca_sources

    a, b, c = tmp_path / "a.pem", tmp_path / "b.pem", tmp_path / "c.pem"
    env = {CA_CERT_ENV: os.pathsep.join([str(a), "", str(b)])}
    found = ca_sources((c, a), env)
    assert [(s.path, s.origin) for s in found] == [
        (a, CA_CERT_ENV), (b, CA_CERT_ENV), (c, "--ca-cert")]  # a only once
    assert ca_sources((), {}) == []


# --- manifest and registry names ----------------------------------------------------------

def test_manifest_write_is_atomic_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / ".lcbuild" / "images.json"
    entry = manifest.entry(repository="r/a", tag="t", digest="sha256:" + "a" * 64,
                           image_id="sha256:1", content_hash="h", platform="linux/amd64",
                           inputs={"code": "c"})
    assert entry["uri"] == "r/a@sha256:" + "a" * 64
    manifest.write(path, "app", {"a": entry})
    assert manifest.read(path) == {"a": entry}
    assert [p.name for p in path.parent.iterdir()] == ["images.json"]  # no temp file left
    path.write_text("{not json")
    assert manifest.read(path) == {}


def test_registry_names_and_schemes() -> None:
    oci = registry.OciRegistry("127.0.0.1:5000", username=None, password=None)
    assert oci.repository("sitegen", "Render") == "127.0.0.1:5000/sitegen/render"
    assert oci.scheme == "http" and oci.auth_config() is None
    prefixed = registry.OciRegistry("registry.example.com/team", "u", "p")
    assert prefixed.repository("sitegen", "toc") == "registry.example.com/team/sitegen/toc"
    assert prefixed.scheme == "https"
    assert prefixed.auth_config() == {"username": "u", "password": "p",
                                      "serveraddress": "registry.example.com"}
    assert registry.is_loopback("localhost:5000") and not registry.is_loopback("10.0.0.1:5000")


def test_copy_app_helper_keeps_the_example_valid(tmp_path: Path) -> None:
    app = app_load.load(copy_app(tmp_path / "a"))
    assert app.root == tmp_path / "a"
    shutil.rmtree(tmp_path / "a")
