"""Deploying: the preflight (`lcbuild doctor`), what the next deploy does to the queues
(`lcbuild plan`), and the deploy itself (`sceptre launch -y prod`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_complex.builder.api.operations import connect
from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import UserError

if TYPE_CHECKING:
    from lambda_complex.builder.deploy.doctor import Check
    from lambda_complex.builder.deploy.preview import Preview

__all__ = ["deploy", "deployer_policy", "doctor", "doctor_failures", "plan", "plan_text"]


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


def plan(app: App, force_remove: bool = False, local: bool = False) -> Preview:
    """What the next deploy would do to the deployed queues (create, move with their messages,
    remove, refuse), changing nothing. `force_remove`: as a deploy with LCBUILD_FORCE_REMOVE=1."""
    from lambda_complex.builder.deploy.preview import preview

    return preview(app, connect(app, local), force_remove)


def plan_text(result: Preview) -> str:
    from lambda_complex.builder.deploy.preview import format_text

    return format_text(result)


def doctor(app: App) -> list[Check]:
    """The read-only checks of the account before a deploy: credentials and region,
    concurrency left unreserved, ECR repositories and their policy, template sizes, the
    Docker engine and the base image. Without pushed images, templates are sized with
    placeholders and the ECR check says to push."""
    import boto3

    from lambda_complex.builder.deploy import images
    from lambda_complex.builder.deploy.doctor import (
        Check,
        all_checks,
        placeholder_images,
        template_bucket_of,
    )
    from lambda_complex.builder.images import dockerfile

    session = boto3.Session(region_name=app.deployment.region)
    manifest = images.manifest_path(app.root)
    try:
        pushed = images.read(manifest, app)
    except UserError:
        pushed = None
    base_image = os.environ.get(dockerfile.BASE_IMAGE_ENV) or dockerfile.default_base_image(
        dockerfile.read_dockerfile_base())
    checks = all_checks(app, session, pushed or placeholder_images(app),
                        template_bucket_of(app.root), base_image)
    if pushed is None:
        checks = [c for c in checks if c.name != "ECR"]
        if app.deployment.registry == "ecr":
            checks.append(Check("ECR", False, (
                f"no pushed images in {manifest}: run `lcbuild images --push`")))
    return checks


def deployer_policy(app: App) -> tuple[dict[str, Any], str | None]:
    """The least-privilege IAM policy a deployer of `app` needs, and the account it is for
    (None without credentials: the ARNs then use '*' for it)."""
    import boto3

    from lambda_complex.builder.deploy.deployer_policy import deployer_policy as policy_document
    from lambda_complex.builder.deploy.doctor import credentials_check, template_bucket_of

    session = boto3.Session(region_name=app.deployment.region)
    _identity, account = credentials_check(session, app.deployment.region)
    return policy_document(app, account or "*", template_bucket_of(app.root)), account


def doctor_failures(checks: list[Check]) -> list[Check]:
    """The checks that failed (a skipped check is no failure)."""
    from lambda_complex.builder.deploy.doctor import failures

    return failures(checks)
