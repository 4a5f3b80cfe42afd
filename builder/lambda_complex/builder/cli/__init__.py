"""`lcbuild`: the command line over the Python API (`lambda_complex.builder.api`). Thin: each
command parses its options, calls `api` and prints what it returns (text, JSON, exit code); an
import-linter contract in the root pyproject keeps the CLI from reaching past the API.

One module per command, or per group of commands that share a subject, registered here."""

from __future__ import annotations

import click

from lambda_complex.builder.cli import (
    app_commands,
    dispatch,
    doctor,
    images,
    local,
    plan,
    redrive,
    render,
    status,
    trace,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lambda-complex")
def cli() -> None:
    """Build, deploy and run queue-driven applications made of AWS Lambda functions."""


for command in (app_commands.validate, app_commands.graph, app_commands.init, status.status,
                plan.plan, dispatch.pause, dispatch.resume, redrive.redrive, trace.trace,
                images.images, render.render, local.local, doctor.doctor):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="lcbuild")
