"""`lcbuild pause` and `resume`: the dispatch switch the coordinator obeys, and the native
components' event source mappings (nothing is deleted)."""

from __future__ import annotations

from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, local_option, report_user_errors


@click.command()
@app_option
@local_option
@report_user_errors
def pause(app_file: Path, local: bool) -> None:
    """Stop dispatching (the coordinator starts nothing, event source mappings are disabled);
    nothing is deleted."""
    app = api.load(app_file)
    click.echo(api.pause_text(app, api.pause(app, local)))


@click.command()
@app_option
@local_option
@report_user_errors
def resume(app_file: Path, local: bool) -> None:
    """Start dispatching again (event source mappings enabled)."""
    app = api.load(app_file)
    click.echo(api.pause_text(app, api.resume(app, local)))
