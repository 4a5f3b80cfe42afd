"""The Python API: what `lcbuild` and `sceptre launch` do, callable from code (the CLI is a thin
layer over these functions).

    from lambda_complex.builder import api

    app = api.load("lambda-complex.yaml")          # DefinitionError lists every problem
    result = api.build(app, push=True)              # content-addressed images, pushed by digest
    api.deploy(app)                                 # `sceptre launch -y prod` of the project
    with api.run_locally(app.source) as bed:        # the embedded testbed of `lcbuild local run`
        bed.send("ingest", {...}); bed.wait_idle(120); print(bed.report())
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import DefinitionError, FieldError, UserError
from lambda_complex.builder.images.pipeline import Options as BuildOptions
from lambda_complex.builder.images.pipeline import Result as BuildResult

__all__ = ["BuildOptions", "BuildResult", "build", "deploy", "load", "run_locally", "validate"]


def load(path: str | Path = app_load.DEFAULT_FILE) -> App:
    return app_load.load(path)


def validate(path: str | Path = app_load.DEFAULT_FILE) -> list[FieldError]:
    """Every problem of the definition at `path`; empty when it is valid."""
    try:
        app_load.load(path)
    except DefinitionError as e:
        return e.errors
    return []


def build(app: App, **options: Any) -> BuildResult:
    """`lcbuild images`: options as BuildOptions' fields (push, registry, jobs, dry_run, ...)."""
    from lambda_complex.builder.images.pipeline import build_images

    return build_images(app, BuildOptions(**options))


def deploy(app: App, stack_group: str = "prod", env: dict[str, str] | None = None) -> str:
    """`sceptre launch -y STACK_GROUP` from the application's project folder (the real CLI, as a
    process of its own: its hooks restore the dispatch switch when that process ends). Returns
    sceptre's output; raises UserError with it when the launch fails."""
    sceptre = Path(sys.executable).with_name("sceptre")
    command = [str(sceptre if sceptre.exists() else "sceptre"), "--dir", str(app.root),
               "launch", "-y", stack_group]
    done = subprocess.run(command, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise UserError(f"sceptre launch {stack_group} failed (exit {done.returncode}):\n"
                        f"{output[-3000:]}")
    return output


def run_locally(app_path: str | Path, mode: str = "process", **options: Any) -> Any:
    """The testbed of `lcbuild local run` (a context manager: started on enter, stopped on
    exit). Returns `lambda_complex.builder.local.run.testbed.Testbed`."""
    from lambda_complex.builder.local.run.testbed import Testbed

    return Testbed(Path(app_path), mode, **options)  # type: ignore[arg-type]
