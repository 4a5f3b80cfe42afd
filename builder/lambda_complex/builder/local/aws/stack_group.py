"""The application's stack group deployed to the emulator with the real `sceptre` CLI, as in
production: the project's own `config/` (for a project without one, the stack group `lcbuild
init` writes, generated under the run's folder). The stacks resolve images with `!lc_image`
from a build manifest; locally they get a placeholder manifest (`LCBUILD_MANIFEST`: images pinned
by a zero digest, which moto keeps but never runs), because the local Lambda service runs the
local images or the source folders itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_complex.builder import scaffold
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import lint
from lambda_complex.builder.deploy import images
from lambda_complex.builder.images import manifest
from lambda_complex.builder.local import cache
from lambda_complex.builder.local.aws import sceptre_local
from lambda_complex.builder.sceptre import project
from lambda_complex.runtime import names

_PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
# How often a local run looks whether a stack of the running deploy exists yet: each look is
# one ListStacks, which the emulator serves between the deploy's own calls (so not too often).
FOLLOW_POLL_S = 0.25
CREATED = "CREATE_COMPLETE"
LINT_CACHE_SUBDIR = "cfn-lint"


class DeployError(RuntimeError):
    pass


def write_placeholder_manifest(app: App, path: Path) -> Path:
    """A build manifest (the one format) naming placeholder images pinned by digest."""
    entries = {
        name: manifest.entry(repository=f"local/{app.name}/{name.lower()}", tag="local",
                             digest=_PLACEHOLDER_DIGEST, image_id=None, content_hash="",
                             platform="", inputs={})
        for name in (*app.component_names, names.COORDINATOR)
    }
    manifest.write(path, app.name, entries)
    return path


def sceptre_project(app: App, work_dir: Path) -> Path:
    """The project's own Sceptre folder; for a project without `config/`, the stack group that
    `lcbuild init` writes, generated under work_dir (the definition stays where it is)."""
    if (app.root / "config").is_dir():
        return app.root
    shutil.rmtree(work_dir, ignore_errors=True)
    scaffold.write_stack_group(work_dir, app.name, app.deployment.region, app.deployment.tags)
    return work_dir


class Deployment:
    """`sceptre launch -y prod` running in the background (`start_deploy`); `wait()` for it.
    `started_at` and `ended_at` (time.monotonic()): when sceptre started and exited."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, started_at: float
                 ) -> None:
        self.process, self.log_path = process, log_path
        self.started_at = started_at
        self.ended_at: float | None = None
        self._exited = threading.Thread(target=self._watch, name="sceptre", daemon=True)
        self._exited.start()

    def _watch(self) -> None:
        self.process.wait()
        self.ended_at = time.monotonic()

    def running(self) -> bool:
        return self._exited.is_alive()

    def exited(self, timeout: float) -> bool:
        """Whether sceptre has exited, waiting at most `timeout` seconds for it."""
        self._exited.join(timeout)
        return not self._exited.is_alive()

    def wait(self) -> None:
        """Until sceptre exits; DeployError (with the log's tail) unless it succeeded."""
        code = self.process.wait()
        self._exited.join()
        if code != 0:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise DeployError(f"sceptre launch failed (exit {code}), see {self.log_path}:\n{tail}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait()


def start_deploy(app: App, placeholder_manifest: Path, env: dict[str, str], log_path: Path,
                 env_from: Path | None = None) -> Deployment:
    """`sceptre launch -y prod` against the emulator (env), by the real sceptre CLI with its
    status polls shortened (`sceptre_local`), started and not waited for; its output goes to
    log_path. `env_from`: sceptre imports, then waits for this file (`write_env`) to add what
    `env` cannot hold yet (the deployer's credentials). Its cfn-lint findings are kept in the
    user's cache (`cfn.lint`): a local deploy of unchanged templates is not linted again."""
    folder = sceptre_project(app, log_path.parent / "deploy")
    command = [sys.executable, "-m", "lambda_complex.builder.local.aws.sceptre_local",
               *([sceptre_local.ENV_FROM, str(env_from)] if env_from else []),
               sceptre_local.LOCAL_RUN, "--dir", str(folder)]
    if env_from is not None:
        env_from.unlink(missing_ok=True)  # an earlier run's
    started_at = time.monotonic()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*command, "launch", "-y", "prod"],
            cwd=folder,
            env={lint.CACHE_ENV: str(cache.root() / LINT_CACHE_SUBDIR), **os.environ, **env,
                 project.APP_FILE_ENV: str(app.source),
                 images.MANIFEST_ENV: str(placeholder_manifest)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Deployment(process, log_path, started_at)


def write_env(path: Path, env: dict[str, str]) -> None:
    """The variables a deploy started with `env_from=path` waits for, written whole (rename),
    readable by this user only (credentials)."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(env, out)
    os.replace(partial, path)


def deploy(app: App, placeholder_manifest: Path, env: dict[str, str], log_path: Path) -> None:
    """`start_deploy`, waited for."""
    start_deploy(app, placeholder_manifest, env, log_path).wait()


def stack_created(cloudformation: Any, name: str) -> bool:
    """Whether stack `name` exists and its creation is complete. Asked through ListStacks, not
    DescribeStacks: moto creates a stack's resources lazily, on first access, and describing a
    stack that another request is creating (its outputs) would create them a second time."""
    pages = cloudformation.get_paginator("list_stacks").paginate(StackStatusFilter=[CREATED])
    return any(s["StackName"] == name for page in pages for s in page["StackSummaries"])


def follow(deployment: Deployment, cloudformation: Any, stack: str,
           on_created: Callable[[], None]) -> None:
    """Until sceptre exits: `on_created()` once, as soon as `stack` is created."""
    called = False
    while deployment.running():
        if not called and stack_created(cloudformation, stack):
            on_created()
            called = True
        deployment.exited(FOLLOW_POLL_S)


def create_role_buckets(s3: Any, app: App) -> None:
    """A local convenience: the buckets the role statements name (`role_buckets`), made in the
    emulator where the stacks do not make them."""
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in role_buckets(app):
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={
                "LocationConstraint": app.deployment.region})


def role_buckets(app: App) -> list[str]:
    """Buckets named by the role statements' resources (`arn:aws:s3:::NAME[/...]`)."""
    found: set[str] = set()
    for role in app.roles:
        for statement in role.statements:
            for resource in statement.resources:
                if resource.startswith("arn:aws:s3:::"):
                    bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
                    if bucket and "*" not in bucket:
                        found.add(bucket)
    return sorted(found)
