"""`lcbuild`: the command line over the Python API. Thin: parse, call, print.

Each command group lives in its own module and is registered here."""

from __future__ import annotations

import click

from lambda_complex.builder.cli import app_commands, doctor, images, local, stacks
from lambda_complex.builder.cli import render as render_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lambda-complex")
def cli() -> None:
    """Build, deploy and run queue-driven applications made of AWS Lambda functions."""


cli.add_command(app_commands.validate)
cli.add_command(app_commands.graph)
cli.add_command(app_commands.init)
cli.add_command(stacks.status)
cli.add_command(stacks.plan)
cli.add_command(stacks.pause)
cli.add_command(stacks.resume)
cli.add_command(stacks.redrive)
cli.add_command(stacks.trace)
cli.add_command(images.images)
cli.add_command(render_command.render)
cli.add_command(local.local)
cli.add_command(doctor.doctor)


def main() -> None:
    cli(prog_name="lcbuild")
