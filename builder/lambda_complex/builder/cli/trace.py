"""`lcbuild trace TRACE_ID`: one input's path through every component, from the logs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, report_user_errors


@click.command()
@click.argument("trace_id")
@app_option
@click.option("--since", "since_minutes", type=click.IntRange(min=1), default=60,
              show_default=True, help="Search the logs of the last this many minutes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the list of steps).")
@click.option("--local", is_flag=True,
              help="Read the logs of the last `lcbuild local run` instead of CloudWatch Logs.")
@report_user_errors
def trace(app_file: Path, trace_id: str, since_minutes: int, as_json: bool, local: bool) -> None:
    """Follow one input through the application: every component's log line for TRACE_ID (the
    envelope's `trace_id`, in every message, dead letter and log line), in time order."""
    found = api.trace(api.load(app_file), trace_id, since_minutes * 60, local)
    click.echo(json.dumps(found, indent=2) if as_json else api.trace_text(trace_id, found))
