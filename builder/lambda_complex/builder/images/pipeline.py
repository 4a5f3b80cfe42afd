"""`build_images(app, options)`: the Python API behind `lcbuild images`.

Plan, then act: hash everything, look at the engine and the registry (HEAD requests, no pull),
decide per image (decisions.py, pure: what to build or push, and which digest each
image keeps), then build what must be built in parallel, push, and record
the result in `.lcbuild/images.json`. A failing image fails alone: the others still finish.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.images import base_files, build, context, dockerfile, manifest
from lambda_complex.builder.images import decisions as plan
from lambda_complex.builder.images import registry as registry_mod
from lambda_complex.builder.images.build import BuildError, Engine
from lambda_complex.builder.images.decisions import Action, Facts, Plan, PlannedImage
from lambda_complex.builder.images.progress import NullReporter, Reporter
from lambda_complex.builder.images.specs import Job, SpecBuilder, Stage, ca_entries, ca_sources
from lambda_complex.runtime import names

BASE_IMAGE_ENV = dockerfile.BASE_IMAGE_ENV


@dataclass(frozen=True)
class Options:
    push: bool = False
    registry: str | None = None  # default: the definition's deployment.registry
    jobs: int | None = None  # default: default_jobs()
    dry_run: bool = False
    base_image: str | None = None  # default: Dockerfile.base's pinned BASE_IMAGE
    ca_certs: tuple[Path, ...] = ()  # in addition to those of LCBUILD_CA_CERT
    manifest_path: Path | None = None  # default: <app folder>/.lcbuild/images.json
    reporter: Reporter | None = None


@dataclass
class ImageResult:
    name: str
    action: str
    reason: str
    status: str  # planned | skipped | built | pushed | failed
    repository: str
    tag: str
    digest: str | None = None
    image_id: str | None = None
    seconds: float = 0.0
    error: str | None = None
    log_tail: str | None = None
    cached_steps: int | None = None
    steps: int | None = None

    @property
    def uri(self) -> str:
        return (f"{self.repository}@{self.digest}" if self.digest
                else f"{self.repository}:{self.tag}")

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items()}
        data["uri"] = self.uri
        return data


@dataclass
class Result:
    plan: Plan
    images: list[ImageResult]
    manifest_path: Path | None
    dry_run: bool
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(i.status != "failed" for i in self.images)

    def image(self, name: str) -> ImageResult:
        for i in self.images:
            if i.name == name:
                return i
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "push": self.plan.push,
            "manifest": str(self.manifest_path) if self.manifest_path else None,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "dependency_sets": {k: list(v) for k, v in self.plan.dependency_sets.items()},
            "images": [i.to_dict() for i in self.images],
        }


class _Once:
    """Run each keyed action once across threads; later callers wait for (and share) its
    outcome, error included. The first caller runs it in its own thread: no pool deadlock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[str, threading.Event] = {}
        self._errors: dict[str, BaseException | None] = {}

    def run(self, key: str, action: Callable[[], None]) -> None:
        with self._lock:
            event = self._done.get(key)
            first = event is None
            if event is None:
                event = self._done[key] = threading.Event()
        if first:
            try:
                action()
                self._errors[key] = None
            except BaseException as e:
                self._errors[key] = e
            finally:
                event.set()
        event.wait()
        error = self._errors[key]
        if error is not None:
            raise error


def _resolve_base(engine: Engine, options: Options, dockerfile_base: str) -> tuple[str, str]:
    ref = (options.base_image or os.environ.get(BASE_IMAGE_ENV)
           or dockerfile.default_base_image(dockerfile_base))
    info = engine.inspect(ref)
    if info is None:
        raise UserError(f"base image {ref} is not in the Docker engine and lcbuild never pulls: "
                        f"run `docker pull {ref}` first, or choose another with --base-image")
    return ref, str(info["Id"])


def plan_images(app: App, options: Options, engine: Engine) -> tuple[Plan, dict[str, Job],
                                                                     registry_mod.Registry]:
    dockerfile_base = dockerfile.read_dockerfile_base()
    base_ref, base_id = _resolve_base(engine, options, dockerfile_base)
    registry_name = options.registry or app.deployment.registry
    registry = registry_mod.for_name(registry_name, app.deployment.region)
    image_names = [*app.component_names, names.COORDINATOR]
    # ECR repository names need the account (an AWS call): only resolve them when pushing.
    remote = options.push or registry_name != "ecr"
    repos = {n: registry.repository(app.name, n) if remote else None for n in image_names}
    builder = SpecBuilder(app, base_ref=base_ref, base_id=base_id,
                          dockerfile_base=dockerfile_base,
                          ca=ca_entries(ca_sources(options.ca_certs, os.environ)),
                          registry_repo=repos)
    jobs = {c.name: builder.component(c) for c in app.components}
    jobs[names.COORDINATOR] = builder.coordinator()

    def observe(job: Job) -> Facts:
        spec = job.spec
        local = engine.image_id(f"{spec.local_repository}:{spec.tag}")
        digest = None
        if options.push and spec.repository is not None:
            digest = registry.digest(spec.repository, spec.tag)
        return Facts(registry_digest=digest, local_image_id=local)

    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        facts = dict(zip(jobs, pool.map(observe, jobs.values()), strict=True))
    previous = manifest.read(_manifest_path(app, options))
    specs = [job.spec for job in jobs.values()]
    the_plan = plan.make_plan(specs, facts, previous, options.push)
    building = [jobs[p.name] for p in the_plan.images if p.action is Action.BUILD]
    deps_tags = {job.deps.tag for job in building if job.deps is not None}
    missing = {tag for tag in deps_tags if engine.image_id(tag) is None}
    for group in code_stage_groups(building, missing):
        jobs.update((job.spec.name, job) for job in builder.with_code_stage(group))
    return the_plan, jobs, registry


def code_stage_groups(building: Sequence[Job], missing_deps: Collection[str]) -> list[list[Job]]:
    """The components of a run that compile their code in a code stage, a list per stage
    (pure). Per platform: all of those built, when there are two or more (one copy and one
    compiling step in all, instead of both in each image; the stage builds after the runtime
    base, while pip runs), else the one whose dependency stage is still to be built (`missing_deps`:
    its code compiles while pip runs, and after pip its image is two copies). A lone component
    otherwise builds the usual way, in two steps, to which a code stage would add one."""
    by_platform: dict[str, list[Job]] = {}
    for job in building:
        if job.code_names:
            by_platform.setdefault(job.spec.platform, []).append(job)
    return [group for group in by_platform.values()
            if len(group) >= 2 or (group[0].deps is not None and group[0].deps.tag in missing_deps)]


def default_jobs(cpus: int | None = None) -> int:
    """Images built at once when `--jobs` is not given: one per CPU, and at least two (the image
    behind a dependency stage holds a worker while its stage builds). Measured on the example
    (bench/devloop.py, 2 CPUs): a cold build took 3.7 s with 2 at once, 3.8 s with 3, 4.0 s
    with 4 and 4.1 s with 6: pip compiling on the critical path is CPU work, and every build
    beside it takes CPU from it."""
    return max(2, cpus if cpus is not None else os.cpu_count() or 1)


def longest_first(planned: Sequence[PlannedImage], jobs: Mapping[str, Job]) -> list[int]:
    """The order to start the images in (indices into `planned`): those behind a dependency
    stage first, since theirs is the longest path (runtime base, dependency stage, image), then
    the rest in plan order, which fill the other workers meanwhile (pure)."""
    return sorted(range(len(planned)), key=lambda i: jobs[planned[i].name].deps is None)


def _manifest_path(app: App, options: Options) -> Path:
    return options.manifest_path or manifest.path_for(app.root)


class _Executor:
    def __init__(self, engine: Engine, registry: registry_mod.Registry, reporter: Reporter,
                 push: bool, state: Path) -> None:
        self.engine = engine
        self.registry = registry
        self.reporter = reporter
        self.push = push
        self.state = state  # the folder of the manifest (.lcbuild): what is remembered
        self.once = _Once()
        self._present: dict[str, frozenset[str]] = {}

    def _has_build_tools(self, image: str) -> bool:
        def read() -> None:
            paths = dockerfile.BUILD_TOOL_PATHS
            layers = self.engine.layers(image)
            entry = base_files.key(layers, paths) if layers else None
            present = base_files.recall(self.state, entry) if entry else None
            if present is None:
                present = self.engine.paths_present(image, paths)
                if present is not None and entry:
                    base_files.remember(self.state, entry, present)
            self._present[image] = present or frozenset()  # cannot tell: the full stage

        self.once.run("paths:" + image, read)
        return dockerfile.has_build_tools(self._present[image])

    def ensure_stage(self, stage: Stage, who: str, what: str) -> None:
        def make() -> None:
            if self.engine.image_id(stage.tag) is not None:
                return
            self.reporter.status(who, f"building {what}")
            entries = stage.entries
            if stage.lean is not None and self._has_build_tools(stage.lean.base):
                entries = stage.lean.entries
            try:
                self.engine.build(
                    context.tar(entries), stage.tag, stage.platform,
                    buildargs=dict(stage.buildargs),
                    on_step=lambda k, n, text: self.reporter.step(who, k, n, f"{what}: {text}"))
            except BuildError as e:
                raise BuildError(f"{what} failed: {e}", e.tail) from e
            self._check_architecture(stage.tag, stage.platform, what)

        self.once.run(stage.tag, make)

    def _check_architecture(self, ref: str, platform: str, what: str) -> None:
        wanted = build.ARCHITECTURES.get(platform, platform)
        actual = self.engine.architecture(ref)
        if actual != wanted:
            raise BuildError(
                f"{what} was built for {actual or 'an unknown architecture'}, not {wanted} "
                f"({platform}): the base image must provide {platform} (see docs/images.md)")

    def run(self, planned: PlannedImage, job: Job) -> ImageResult:
        spec = planned.spec
        result = ImageResult(planned.name, planned.action.value, planned.reason, "skipped",
                             spec.repository or spec.local_repository, spec.tag,
                             digest=planned.digest, image_id=planned.local_image_id)
        started = time.monotonic()
        name = planned.name
        try:
            if planned.action is Action.BUILD:
                self._build(planned, job, result)
            if self.push and planned.action is not Action.SKIP:
                self._push(planned, job, result)
            text = {"skipped": "unchanged", "built": "built", "pushed": "pushed"}[result.status]
            self.reporter.finish(name, f"{text} {spec.tag[:12]}", True)
        except (BuildError, UserError) as e:
            result.status = "failed"
            result.error = f"{name}: {e}"
            result.log_tail = getattr(e, "tail", None) or None
            self.reporter.finish(name, str(e).splitlines()[0][:160], False)
        except Exception as e:  # an engine or network fault: fail this image, not the run
            result.status = "failed"
            result.error = f"{name}: {type(e).__name__}: {e}"
            self.reporter.finish(name, result.error[:160], False)
        result.seconds = time.monotonic() - started
        return result

    def _build(self, planned: PlannedImage, job: Job, result: ImageResult) -> None:
        name = planned.name
        deps, code = job.deps, job.code_stage
        entries = job.entries
        # The dependency stage builds beside the runtime base and then the code stage (the
        # classic builder is serial). Those two one after the other, not all three at once:
        # pip, on the critical path, then shares the CPUs with one build, not two (in-process
        # cold build of the example, 8 alternating rounds: 2.97 s against 3.07 s).
        with ThreadPoolExecutor(max_workers=1) as side:
            deps_built = (side.submit(self.ensure_stage, deps, name, "dependency stage")
                          if deps is not None else None)
            self.ensure_stage(job.runtime, name, "runtime base")
            if code is not None:
                try:
                    self.ensure_stage(code, name, "code stage")
                    entries = job.from_code_stage()
                except BuildError:
                    # Some member's code does not compile (or the engine failed): the usual
                    # build, which fails only the component whose code it is.
                    self.reporter.status(name, "code stage failed: compiling in the image")
            if deps_built is not None:
                deps_built.result()
        self.reporter.status(name, "building")
        local = f"{planned.spec.local_repository}:{planned.spec.tag}"
        output = self.engine.build(
            context.tar(entries), local, planned.spec.platform,
            on_step=lambda k, n, text: self.reporter.step(name, k, n, text))
        self._check_architecture(local, planned.spec.platform, f"image {name}")
        result.status = "built"
        result.image_id = output.image_id
        result.steps = output.steps
        result.cached_steps = output.cached_steps

    def _push(self, planned: PlannedImage, job: Job, result: ImageResult) -> None:
        """The first image to push over a runtime base pushes alone: the engine does not share
        uploads between repositories, so parallel first pushes would each upload the whole base.
        Once it is in, the others mount or skip those layers and upload only their own."""
        pushed_here = False

        def prime() -> None:
            nonlocal pushed_here
            pushed_here = True
            self._push_now(planned, result)

        try:
            self.once.run("push-base:" + job.runtime.tag, prime)
        except (BuildError, UserError):
            if pushed_here:
                raise
        if not pushed_here:
            self._push_now(planned, result)

    def _push_now(self, planned: PlannedImage, result: ImageResult) -> None:
        spec = planned.spec
        assert spec.repository is not None  # --push resolves every repository
        local = f"{spec.local_repository}:{spec.tag}"
        self.engine.tag(local, spec.repository, spec.tag)
        self.registry.ensure_repository(spec.repository)
        self.reporter.status(planned.name, "pushing")
        result.digest = self.engine.push(
            spec.repository, spec.tag, self.registry.auth_config(),
            on_bytes=lambda done, total: self.reporter.push_bytes(planned.name, done, total))
        result.status = "pushed"
        if result.image_id is None:
            result.image_id = self.engine.image_id(local)


def build_images(app: App, options: Options | None = None) -> Result:
    options = options or Options()
    reporter = options.reporter or NullReporter()
    started = time.monotonic()
    engine = Engine(build.connect())
    the_plan, jobs, registry = plan_images(app, options, engine)
    planned_at = time.monotonic()
    manifest_path = _manifest_path(app, options)
    if options.dry_run:
        images = [ImageResult(p.name, p.action.value, p.reason, "planned",
                              p.spec.repository or p.spec.local_repository, p.spec.tag,
                              digest=p.digest, image_id=p.local_image_id)
                  for p in the_plan.images]
        return Result(the_plan, images, None, True, time.monotonic() - started,
                      {"plan": planned_at - started})
    executor = _Executor(engine, registry, reporter, options.push, manifest_path.parent)
    reporter.begin([p.name for p in the_plan.images])
    try:
        workers = options.jobs or default_jobs()
        order = longest_first(the_plan.images, jobs)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {i: pool.submit(executor.run, the_plan.images[i],
                                      jobs[the_plan.images[i].name]) for i in order}
            images = [futures[i].result() for i in range(len(the_plan.images))]
    finally:
        reporter.end()
        for tag in {job.code_stage.tag for job in jobs.values() if job.code_stage is not None}:
            engine.remove_image(tag)  # only its files were needed
    entries: dict[str, dict[str, Any]] = {}
    for planned, image in zip(the_plan.images, images, strict=True):
        if image.status == "failed":
            continue  # no entry, not even the previous one: it no longer matches the inputs
        entries[image.name] = manifest.entry(
            repository=image.repository, tag=image.tag, digest=image.digest,
            image_id=image.image_id, content_hash=planned.spec.content_hash,
            platform=planned.spec.platform, inputs=dict(planned.spec.inputs))
    manifest.write(manifest_path, app.name, entries)
    finished = time.monotonic()
    return Result(the_plan, images, manifest_path, False, finished - started,
                  {"plan": planned_at - started, "execute": finished - planned_at})
