"""`lcbuild pause` and `resume`: the dispatch switch the coordinator obeys (nothing is deleted)."""

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
    """Stop dispatching (the coordinator starts nothing); nothing is deleted."""
    app = api.load(app_file)
    before, after = api.pause(app, local)
    click.echo(f"{app.name}: {before} -> {after}")


@click.command()
@app_option
@local_option
@report_user_errors
def resume(app_file: Path, local: bool) -> None:
    """Start dispatching again."""
    app = api.load(app_file)
    before, after = api.resume(app, local)
    click.echo(f"{app.name}: {before} -> {after}")
