"""`lcbuild plan`: what the next deploy does to the deployed queues, changing nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, local_option, report_user_errors


@click.command()
@app_option
@click.option("--force-remove", is_flag=True, envvar="LCBUILD_FORCE_REMOVE",
              help="As the deploy with LCBUILD_FORCE_REMOVE=1: removed components' messages go "
                   "to their dead-letter queues instead of refusing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@local_option
@report_user_errors
def plan(app_file: Path, force_remove: bool, as_json: bool, local: bool) -> None:
    """What the next `sceptre launch prod` would do to the deployed queues (create, move with
    their messages, remove, refuse), without changing anything. Exit 1 if it would be refused.
    Template changes: `sceptre diff prod`."""
    result = api.plan(api.load(app_file), force_remove, local)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else api.plan_text(result))
    if result.refused:
        sys.exit(1)
