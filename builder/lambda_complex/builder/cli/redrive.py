"""`lcbuild redrive COMPONENT`: a component's dead letters back to work."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, local_option, report_user_errors


@click.command()
@click.argument("component")
@app_option
@click.option("--limit", type=click.IntRange(min=1), help="Move at most this many dead letters.")
@click.option("--queue", metavar="NAME",
              help="Take them from this queue of the application instead (e.g. the retained "
                   "dead-letter queue of a removed component).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@local_option
@report_user_errors
def redrive(app_file: Path, component: str, limit: int | None, queue: str | None,
            as_json: bool, local: bool) -> None:
    """Put COMPONENT's dead letters back to work (fix their cause first): messages go back into
    its queue; an invocation component's failed events are invoked again."""
    result = api.redrive(api.load(app_file), component, limit, queue, local)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(f"{result.moved} dead letter(s) from {result.source} to {result.target}; "
               f"{result.left} left")
    if result.skipped:
        click.echo(f"{result.skipped} Lambda on-failure record(s) of failed nudges left in "
                   f"{result.source}: they are not messages (see docs/deploy.md)")
