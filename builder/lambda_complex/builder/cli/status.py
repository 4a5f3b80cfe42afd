"""`lcbuild status`: the deployed application's queues, coordinator chains and dispatch state."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, local_option, report_user_errors


@click.command()
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@local_option
@report_user_errors
def status(app_file: Path, as_json: bool, local: bool) -> None:
    """Queue depth, in flight, dead-lettered and limit per component; coordinator chains alive,
    last coordinator run; running, paused or deploying."""
    result = api.status(api.load(app_file), local)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else api.status_text(result))
