"""`lcbuild validate`, `graph` and `init`: commands about the application definition itself."""

from __future__ import annotations

from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, report_user_errors


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
              show_default=True, help="Output format.")
@report_user_errors
def graph(app_file: Path, fmt: str) -> None:
    """Print the routing graph (text, Mermaid or Graphviz dot)."""
    click.echo(api.graph(api.load(app_file), fmt))


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
