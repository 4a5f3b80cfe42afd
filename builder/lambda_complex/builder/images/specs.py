"""From the application to image specs: read the files that go into each image, hash them, and
render the Dockerfiles. The only file-reading step before the (pure) plan.

Hashes that feed the tag are computed from Dockerfiles rendered with symbolic parent names, so a
change upstream is reported as that input (e.g. `runtime`), not also as a `dockerfile` change.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import lambda_complex.runtime
from lambda_complex.builder.app import compile as app_compile
from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App, Component
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.images import context, dockerfile
from lambda_complex.builder.images.context import Entry
from lambda_complex.builder.images.decisions import ImageSpec
from lambda_complex.runtime import config, names

LOCAL_PREFIX = "lambda-complex"
COORDINATOR_PLATFORM = "linux/amd64"  # the coordinator/invoker function runs on x86_64
_HASH_LEN = 32


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


@dataclass(frozen=True)
class Lean:
    """A dependency stage's other build context, for a base that has its build tools: the same
    files in fewer steps (dockerfile.lean_dependencies). Which one a build takes is read from
    `base` when the stage is built; the stage's tag is the same for both."""

    base: str  # the image whose files decide (dockerfile.has_build_tools)
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Stage:
    """An internal image (runtime base or dependency stage): built locally, never pushed."""

    tag: str  # local name:tag
    platform: str
    entries: tuple[Entry, ...]  # the whole build context, Dockerfile included
    buildargs: tuple[tuple[str, str], ...] = ()
    lean: Lean | None = None


@dataclass(frozen=True)
class Job:
    """Everything needed to build one planned image."""

    spec: ImageSpec
    runtime: Stage
    deps: Stage | None
    entries: tuple[Entry, ...]  # the usual build's context: its code is compiled in the image
    code_names: tuple[str, ...] = ()  # the code's top-level files and folders (what is compiled)
    # Where this run compiles its code instead, when it does (`SpecBuilder.with_code_stage`).
    code_stage: Stage | None = None

    def task_files(self) -> tuple[Entry, ...]:
        """Its code and config as TASK_ROOT holds them: the usual context but the Dockerfile."""
        task = f"{dockerfile.TASK_DIR}/"
        return tuple(Entry(e.name.removeprefix(task), e.data, e.executable)
                     for e in self.entries if e.name != "Dockerfile")

    def from_code_stage(self) -> tuple[Entry, ...]:
        """The build context of the image from its code stage: its Dockerfile alone."""
        assert self.code_stage is not None
        return (Entry("Dockerfile", dockerfile.component_from_stages(
            self.deps.tag if self.deps else None, self.runtime.tag, self.code_stage.tag,
            self.spec.name).encode()),)


def code_stage(base_ref: str, jobs: Sequence[Job], run: str) -> Stage:
    """One code stage for the components of `jobs` (one platform): each one's files under
    CODE_CONTEXT_DIR/<name>/. Named after its members' tags and `run`, the run that removes it
    once used: another run building the same images at the same time has its own."""
    members = tuple((job.spec.name, job.code_names) for job in jobs)
    key = context.digest_text(base_ref, *(job.spec.tag for job in jobs))
    files = tuple(Entry(f"{dockerfile.CODE_CONTEXT_DIR}/{job.spec.name}/{e.name}", e.data,
                        e.executable) for job in jobs for e in job.task_files())
    return Stage(tag=f"{LOCAL_PREFIX}/code:{key[:_HASH_LEN]}-{run}",
                 platform=jobs[0].spec.platform,
                 entries=(Entry("Dockerfile", dockerfile.code_stage(base_ref, members).encode()),
                          *files))


def runtime_entries() -> list[Entry]:
    """The installed lambda-complex-runtime package: `lambda_complex` stays a namespace package
    in the image too (no `__init__.py`), exactly as installed."""
    runtime_dir = Path(lambda_complex.runtime.__file__).resolve().parent
    return context.collect(runtime_dir, prefix="lambda_complex/runtime/")


CA_CERT_ENV = "LCBUILD_CA_CERT"  # PEM file paths, os.pathsep-separated; --ca-cert adds to them


@dataclass(frozen=True)
class CaSource:
    path: Path
    origin: str  # where it was named, for the error message: `--ca-cert` or CA_CERT_ENV


def ca_sources(options_paths: tuple[Path, ...], environ: Mapping[str, str]) -> list[CaSource]:
    """The CA files of a run: those of CA_CERT_ENV, then the options', each file once."""
    named = [CaSource(Path(p), CA_CERT_ENV)
             for p in environ.get(CA_CERT_ENV, "").split(os.pathsep) if p.strip()]
    named += [CaSource(p, "--ca-cert") for p in options_paths]
    seen: set[Path] = set()
    unique = []
    for source in named:
        key = source.path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(source)
    return unique


def ca_entries(sources: list[CaSource]) -> list[Entry]:
    """The CA certificates as build-context files. They reach only the dependency stage (to let
    pip through a re-signing proxy) and no hash: they change how files are fetched, not which
    files an image holds, so adding or dropping one rebuilds nothing."""
    entries = []
    for index, source in enumerate(sources):
        what = f"{source.origin} {source.path}"
        try:
            data = source.path.read_bytes()
        except OSError as e:
            raise UserError(f"{what}: cannot read it ({e.strerror})") from e
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise UserError(f"{what}: not a PEM certificate file")
        entries.append(Entry(f"ca/{index:02d}.pem", data if data.endswith(b"\n") else data + b"\n"))
    return entries


def has_requirements(entries: list[Entry]) -> bool:
    for e in entries:
        if e.name == "requirements/requirements.txt":
            lines = (line.strip() for line in e.data.decode("utf-8", "replace").splitlines())
            return any(line and not line.startswith("#") for line in lines)
    return False


class SpecBuilder:
    """Computes specs and jobs for one run; caches the shared stages."""

    def __init__(self, app: App, *, base_ref: str, base_id: str, dockerfile_base: str,
                 ca: list[Entry], registry_repo: dict[str, str | None]) -> None:
        self.app = app
        self.base_ref = base_ref
        self.base_id = base_id
        self.runtime_dockerfile = dockerfile.runtime_base(dockerfile_base)
        self.ca = ca
        self.registry_repo = registry_repo
        self.runtime_files = runtime_entries()
        self.runtime_input = context.digest_text(
            self.runtime_dockerfile, context.digest(self.runtime_files))
        self._runtimes: dict[str, Stage] = {}
        # Names this run's code stages, which it removes once used: another run building the
        # same inputs at the same time has its own.
        self.run = uuid.uuid4().hex[:8]

    def runtime(self, platform: str) -> Stage:
        if platform not in self._runtimes:
            key = context.digest_text(self.base_id, self.runtime_input, platform)
            self._runtimes[platform] = Stage(
                tag=f"{LOCAL_PREFIX}/runtime:{key[:_HASH_LEN]}", platform=platform,
                entries=(Entry("Dockerfile", self.runtime_dockerfile.encode()),
                         *self.runtime_files),
                buildargs=(("BASE_IMAGE", self.base_ref),),
            )
        return self._runtimes[platform]

    def _local_repository(self, name: str) -> str:
        return f"{LOCAL_PREFIX}/{naming.ecr_repository_name(self.app.name, name)}"

    def component(self, c: Component) -> Job:
        platform = c.lambda_.architecture.docker_platform
        runtime = self.runtime(platform)
        folder = c.lambda_.path
        if not folder.is_dir():
            raise UserError(f"component {c.name}: folder {folder} does not exist")
        requirements = context.dependency_files(folder, prefix="requirements/")
        with_requirements = has_requirements(requirements)
        build_packages = tuple(c.lambda_.build_packages)
        # Symbolic render for hashing (no parent tags, no CA: see ca_entries); the real render
        # for building. The stage grows from the base image itself, not the runtime base (pip
        # needs nothing of the runtime), so both build at the same time.
        deps_symbolic = dockerfile.dependencies("BASE", build_packages, with_requirements,
                                                has_ca=False)
        dependencies_input = context.digest_text(context.digest(requirements),
                                                 " ".join(build_packages))
        build_input = context.digest_text(deps_symbolic)
        deps_key = context.digest_text(self.base_id, platform, dependencies_input, build_input)
        deps_tag = f"{LOCAL_PREFIX}/deps:{deps_key[:_HASH_LEN]}"
        files = (*requirements, *self.ca,
                 # An empty requirements/ folder must still exist for its COPY.
                 *(() if requirements else (Entry("requirements/.keep", b""),)))
        # Without system packages to install, a base that has the build tools needs no tools
        # step: the lean context. The tag stays that of the full render (the same files).
        lean = None if build_packages else Lean(self.base_ref, (
            Entry("Dockerfile", dockerfile.lean_dependencies(
                self.base_ref, with_requirements, bool(self.ca)).encode()),
            *(Entry(f"{dockerfile.STAGE_DIR}/{e.name}", e.data, e.executable) for e in files)))
        deps = Stage(
            tag=deps_tag, platform=platform,
            entries=(Entry("Dockerfile", dockerfile.dependencies(
                self.base_ref, build_packages, with_requirements, bool(self.ca)).encode()),
                *files),
            lean=lean,
        )
        task = f"{dockerfile.TASK_DIR}/"
        code = context.code_files(folder, prefix=task)
        if not code:
            raise UserError(f"component {c.name}: no code files in {folder}")
        code_names = tuple(sorted({e.name.removeprefix(task).split("/")[0] for e in code}))
        config_json = app_compile.for_component(self.app, c.name).to_json().encode()
        image_dockerfile = dockerfile.component(deps_tag, runtime.tag, with_requirements,
                                                config.CONFIG_FILE_NAME, code_names)
        inputs = {
            "base": self.base_id,
            "runtime": self.runtime_input,
            "dependencies": dependencies_input,
            "dockerfile": _sha(dockerfile.component("DEPS", "RUNTIME", with_requirements,
                                                    config.CONFIG_FILE_NAME, code_names)),
            "code": context.digest(code),
            "config": _sha(config_json),
            "platform": platform,
            "build": build_input,
        }
        spec = ImageSpec(c.name, self._local_repository(c.name), self.registry_repo[c.name],
                         platform, inputs, dependency_set=deps_key[:12])
        entries = (Entry("Dockerfile", image_dockerfile.encode()), *code,
                   Entry(config.CONFIG_FILE_NAME, config_json))
        return Job(spec, runtime, deps if dockerfile.needs_dependency_stage(with_requirements)
                   else None, entries, code_names)

    def with_code_stage(self, jobs: Sequence[Job]) -> list[Job]:
        """`jobs` (components of one platform) with their code compiled in one code stage."""
        stage = code_stage(self.base_ref, jobs, self.run)
        return [replace(job, code_stage=stage) for job in jobs]

    def coordinator(self) -> Job:
        runtime = self.runtime(COORDINATOR_PLATFORM)
        config_json = app_compile.for_coordinator(self.app).to_json().encode()
        name = names.COORDINATOR
        inputs = {
            "base": self.base_id,
            "runtime": self.runtime_input,
            "dockerfile": _sha(dockerfile.coordinator("RUNTIME", config.CONFIG_FILE_NAME)),
            "config": _sha(config_json),
            "platform": COORDINATOR_PLATFORM,
        }
        spec = ImageSpec(name, self._local_repository(name), self.registry_repo[name],
                         COORDINATOR_PLATFORM, inputs)
        entries = (Entry("Dockerfile", dockerfile.coordinator(
            runtime.tag, config.CONFIG_FILE_NAME).encode()),
            Entry(config.CONFIG_FILE_NAME, config_json))
        return Job(spec, runtime, None, entries)
