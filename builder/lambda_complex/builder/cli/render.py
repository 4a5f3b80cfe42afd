"""`lcbuild render`: the three stack templates, rendered offline from the definition and the
build manifest, for review and policy tools (cfn-lint, cfn-guard, checkov), as `cdk synth` does.
No AWS call: images without a digest get a placeholder, the queues stack is a first deploy's."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, report_user_errors


@click.command()
@app_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder for <stack-name>.json (default: {api.RENDER_DIR} beside the "
              "definition).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {stack name: file} as JSON instead of one path a line.")
@report_user_errors
def render(app_file: Path, out_dir: Path | None, as_json: bool) -> None:
    """Write the queues, functions and coordinator templates (each passed through cfn-lint)
    without calling AWS; images come from .lcbuild/images.json, placeholders where unpushed."""
    written = api.render(api.load(app_file), out_dir)
    if as_json:
        click.echo(json.dumps({name: str(path) for name, path in written.items()}, indent=2))
    else:
        for path in written.values():
            click.echo(str(path))
