"""`lcbuild doctor`: read-only preflight against the account; `--policy` prints the deployer's
least-privilege policy generated from the app."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from lambda_complex.builder.cli.common import app_option, load_app, report_user_errors


@click.command()
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.option("--policy", is_flag=True,
              help="Print the IAM policy a deployer needs for this app instead (JSON).")
@report_user_errors
def doctor(app_file: Path, as_json: bool, policy: bool) -> None:
    """Check the account before a deploy: credentials and region, concurrency left unreserved,
    ECR repositories and their policy, template sizes, the Docker engine and the base image.
    One line per check; exit 1 if any fails."""
    import boto3

    from lambda_complex.builder.deploy import deployer_policy
    from lambda_complex.builder.deploy import doctor as doctor_mod
    from lambda_complex.builder.deploy import images as images_mod
    from lambda_complex.builder.errors import UserError
    from lambda_complex.builder.images import dockerfile

    app = load_app(app_file)
    session = boto3.Session(region_name=app.deployment.region)
    bucket = doctor_mod.template_bucket_of(app.root)
    if policy:
        _identity, account = doctor_mod.credentials_check(session, app.deployment.region)
        if account is None:
            click.echo("note: account unknown (no credentials): ARNs use '*' for it", err=True)
        document = deployer_policy.deployer_policy(app, account or "*", bucket)
        click.echo(json.dumps(document, indent=2))
        return
    try:
        found = images_mod.read(images_mod.manifest_path(app.root), app)
    except UserError:
        found = None  # sized with placeholders; the ECR check needs pushed images
    images = found or doctor_mod.placeholder_images(app)
    base_image = os.environ.get(dockerfile.BASE_IMAGE_ENV) or dockerfile.default_base_image(
        dockerfile.read_dockerfile_base())
    checks = doctor_mod.all_checks(app, session, images, bucket, base_image)
    if found is None:
        checks = [c for c in checks if c.name != "ECR"]
        if app.deployment.registry == "ecr":
            checks.append(doctor_mod.Check("ECR", False, (
                f"no pushed images in {images_mod.manifest_path(app.root)}: run "
                "`lcbuild images --push`")))
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        for check in checks:
            click.echo(check.line())
    if doctor_mod.failures(checks):
        sys.exit(1)
