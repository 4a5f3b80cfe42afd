"""What a deploy is made of: the component images (`lcbuild images`) and the stack templates
rendered offline (`lcbuild render`). The Docker SDK is imported only by `build`: it costs a
noticeable part of a second, which no other command should pay."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.images.dockerfile import BASE_IMAGE_ENV

if TYPE_CHECKING:
    from lambda_complex.builder.images.pipeline import Result as BuildResult

__all__ = ["BASE_IMAGE_ENV", "RENDER_DIR", "build", "render"]

RENDER_DIR = Path(".lcbuild") / "render"  # under the application's folder


def build(app: App, *, show_progress: bool = False, **options: Any) -> BuildResult:
    """Build (and push) every image that changed: `options` as `BuildOptions`' fields (push,
    registry, jobs, dry_run, base_image, ca_certs, ...). `show_progress`: draw the builds on
    the terminal (never for a dry run, which builds nothing)."""
    from lambda_complex.builder.images import pipeline, progress

    if show_progress and not options.get("dry_run") and "reporter" not in options:
        options["reporter"] = progress.for_terminal()
    return pipeline.build_images(app, pipeline.Options(**options))


def render(app: App, out_dir: Path | None = None) -> dict[str, Path]:
    """Write every stack's template, passed through cfn-lint, as `<out_dir>/<stack name>.json`
    (default: RENDER_DIR beside the definition) without calling AWS: images come from the build
    manifest, placeholders where not pushed; the queues stack is a first deploy's. Returns
    stack name -> file written."""
    from lambda_complex.builder.cfn import render as cfn_render
    from lambda_complex.builder.deploy import images
    from lambda_complex.builder.images import manifest

    entries = manifest.read(images.manifest_path(app.root))
    bodies = cfn_render.render_offline(app, cfn_render.offline_images(app, entries))
    folder = out_dir if out_dir is not None else app.root / RENDER_DIR
    written: dict[str, Path] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stack_name, body in bodies.items():
            path = folder / f"{stack_name}.json"
            path.write_text(body + "\n", encoding="utf-8")
            written[stack_name] = path
    except OSError as e:
        raise UserError(f"--out {folder}: cannot write the templates ({e.strerror})") from None
    return written
