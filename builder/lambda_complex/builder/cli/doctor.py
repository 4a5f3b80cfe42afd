"""`lcbuild doctor`: read-only preflight against the account; `--policy` prints the deployer's
least-privilege policy generated from the app."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, report_user_errors


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
    app = api.load(app_file)
    if policy:
        document, account = api.deployer_policy(app)
        if account is None:
            click.echo("note: account unknown (no credentials): ARNs use '*' for it", err=True)
        click.echo(json.dumps(document, indent=2))
        return
    checks = api.doctor(app)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in checks], indent=2))
    else:
        for check in checks:
            click.echo(check.line())
    if api.doctor_failures(checks):
        sys.exit(1)
