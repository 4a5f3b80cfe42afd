"""`lcbuild validate`, `graph` and `init`: commands about the application definition itself."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, report_user_errors
from lambda_complex.builder.errors import UserError


@click.command()
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@report_user_errors
def validate(app_file: Path, as_json: bool) -> None:
    """Check the application definition; print every error with its field path."""
    app = api.load(app_file)
    if as_json:
        import json

        click.echo(json.dumps({"app": app.name, "version": app.version, "valid": True,
                               "components": list(app.component_names)}))
    else:
        click.echo(f"{app_file}: {app.name} {app.version} is valid "
                   f"({len(app.components)} components)")


@click.command()
@app_option
@click.option("--format", "fmt", type=click.Choice(api.GRAPH_FORMATS), default="text",
              show_default=True,
              help="Output format: svg and png are drawn by Graphviz's `dot` (installed apart).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the graph to this file instead of stdout (an image on a terminal must).")
@report_user_errors
def graph(app_file: Path, fmt: str, output: Path | None) -> None:
    """Print the routing graph (text, Mermaid or Graphviz dot), or draw it as an SVG or PNG
    image: each component with its type and limit, edges as routed."""
    app = api.load(app_file)
    if fmt not in api.IMAGE_FORMATS:
        text = api.graph(app, fmt)
        if output is None:
            click.echo(text)
        else:
            _write(output, (text + "\n").encode())
        return
    stdout = sys.stdout.buffer
    if output is None and stdout.isatty():
        raise UserError(f"--format {fmt} writes an image: give -o FILE, or redirect stdout to a "
                        "file or a pipe")
    image = api.graph_image(app, fmt)
    if output is None:
        stdout.write(image)
        stdout.flush()
    else:
        _write(output, image)


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise UserError(f"-o {path}: cannot write it ({e.strerror})") from None


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Application name (default: the directory's name).")
@report_user_errors
def init(directory: Path, name: str | None) -> None:
    """Create a new application in DIRECTORY: a working example component,
    lambda-complex.yaml, config/ and stacks/."""
    created = api.init(directory, name)
    for path in created:
        click.echo(f"created {path}")
    click.echo(f"next: cd {directory} && lcbuild validate && lcbuild graph")
