"""`lcbuild status`, `pause`, `resume`: the deployed application (stacks, queues, coordinator)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lambda_complex.builder.cli.common import app_option, load_app, report_user_errors

if TYPE_CHECKING:
    from lambda_complex.builder.deploy.aws import Aws


def _aws(region: str) -> Aws:
    from lambda_complex.builder.deploy.aws import Aws  # boto3 only for commands that need it

    return Aws(region)


@click.command()
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@report_user_errors
def status(app_file: Path, as_json: bool) -> None:
    """Queue depth, in flight, dead-lettered and limit per component; coordinator chains alive,
    last coordinator run; running, paused or deploying."""
    from lambda_complex.builder.deploy import status as status_mod

    app = load_app(app_file)
    result = status_mod.gather(app, _aws(app.deployment.region))
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json
               else status_mod.format_text(result))


@click.command()
@app_option
@report_user_errors
def pause(app_file: Path) -> None:
    """Stop dispatching (the coordinator starts nothing); nothing is deleted."""
    from lambda_complex.builder.deploy import control

    app = load_app(app_file)
    before, after = control.pause(app, _aws(app.deployment.region))
    click.echo(f"{app.name}: {before} -> {after}")


@click.command()
@app_option
@report_user_errors
def resume(app_file: Path) -> None:
    """Start dispatching again."""
    from lambda_complex.builder.deploy import control

    app = load_app(app_file)
    before, after = control.resume(app, _aws(app.deployment.region))
    click.echo(f"{app.name}: {before} -> {after}")
