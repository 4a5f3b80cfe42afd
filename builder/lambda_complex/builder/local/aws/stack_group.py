"""The application's stack group deployed to the emulator with the real `sceptre` CLI, as in
production: the project's own `config/` (for a project without one, the stack group `lcbuild
init` writes, generated under the run's folder). The stacks resolve images with `!lc_image`
from a build manifest; locally they get a placeholder manifest (`LCBUILD_MANIFEST`: images pinned
by a zero digest, which moto keeps but never runs), because the local Lambda service runs the
local images or the source folders itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from lambda_complex.builder import scaffold
from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy import images
from lambda_complex.builder.images import manifest
from lambda_complex.builder.sceptre import project
from lambda_complex.runtime import names

_PLACEHOLDER_DIGEST = "sha256:" + "0" * 64


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


def deploy(app: App, placeholder_manifest: Path, env: dict[str, str], log_path: Path) -> None:
    """`sceptre launch -y prod` against the emulator (env), by the real sceptre CLI with its
    status polls shortened (`sceptre_local`); its output goes to log_path."""
    folder = sceptre_project(app, log_path.parent / "deploy")
    command = [sys.executable, "-m", "lambda_complex.builder.local.aws.sceptre_local",
               "--dir", str(folder)]
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [*command, "launch", "-y", "prod"],
            cwd=folder,
            env={**os.environ, **env, project.APP_FILE_ENV: str(app.source),
                 images.MANIFEST_ENV: str(placeholder_manifest)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise DeployError(
            f"sceptre launch failed (exit {done.returncode}), see {log_path}:\n{tail}"
        )


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
