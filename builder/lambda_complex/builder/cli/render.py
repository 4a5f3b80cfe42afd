"""`lcbuild render`: the three stack templates, rendered offline from the definition and the
build manifest, for review and policy tools (cfn-lint, cfn-guard, checkov), as `cdk synth` does.
No AWS call: images without a digest get a placeholder, the queues stack is a first deploy's."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lambda_complex.builder.cli.common import app_option, load_app, report_user_errors
from lambda_complex.builder.errors import UserError

DEFAULT_OUT = Path(".lcbuild") / "render"  # under the application's folder


@click.command()
@app_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder for <stack-name>.json (default: {DEFAULT_OUT} beside the "
              "definition).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {stack name: file} as JSON instead of one path a line.")
@report_user_errors
def render(app_file: Path, out_dir: Path | None, as_json: bool) -> None:
    """Write the queues, functions and coordinator templates (each passed through cfn-lint)
    without calling AWS; images come from .lcbuild/images.json, placeholders where unpushed."""
    from lambda_complex.builder.cfn import render as cfn_render
    from lambda_complex.builder.deploy import images
    from lambda_complex.builder.images import manifest

    app = load_app(app_file)
    entries = manifest.read(images.manifest_path(app.root))
    bodies = cfn_render.render_offline(app, cfn_render.offline_images(app, entries))
    folder = out_dir if out_dir is not None else app.root / DEFAULT_OUT
    written: dict[str, str] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stack_name, body in bodies.items():
            path = folder / f"{stack_name}.json"
            path.write_text(body + "\n", encoding="utf-8")
            written[stack_name] = str(path)
    except OSError as e:
        raise UserError(f"--out {folder}: cannot write the templates ({e.strerror})") from None
    if as_json:
        click.echo(json.dumps(written, indent=2))
    else:
        for path_text in written.values():
            click.echo(path_text)
