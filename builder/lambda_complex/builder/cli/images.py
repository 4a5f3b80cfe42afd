"""`lcbuild images`: build (and push) every component image that changed, skip the rest, and
write the build manifest. Thin: parse, call `api.build`, print."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, report_user_errors


@click.command()
@app_option
@click.option("--push", is_flag=True, help="Push the images (those not yet in the registry).")
@click.option("--registry", metavar="R",
              help="'ecr' or a registry host[:port][/prefix] (default: deployment.registry).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), metavar="N",
              help="Images built in parallel (default: the number of CPUs, at least 2).")
@click.option("--dry-run", is_flag=True, help="Print the plan (build/push/skip and why); "
              "change nothing.")
@click.option("--base-image", envvar=api.BASE_IMAGE_ENV, metavar="IMAGE",
              help=f"The Lambda base image (env {api.BASE_IMAGE_ENV}; default: the digest "
              "pinned in Dockerfile.base). Never pulled: it must be in the engine.")
@click.option("--ca-cert", "ca_certs", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="A CA certificate (PEM) that dependency stages trust, e.g. a corporate "
              "proxy's; in addition to those of LCBUILD_CA_CERT (paths separated by "
              f"'{os.pathsep}'). Never in an image or its tag. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@report_user_errors
def images(app_file: Path, push: bool, registry: str | None, jobs: int | None, dry_run: bool,
           base_image: str | None, ca_certs: tuple[Path, ...], as_json: bool) -> None:
    """Build the component images (content-addressed) and the coordinator image."""
    result = api.build(api.load(app_file), push=push, registry=registry, jobs=jobs,
                       dry_run=dry_run, base_image=base_image, ca_certs=tuple(ca_certs),
                       show_progress=True)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print(result)
    if not result.ok:
        sys.exit(1)


def _print(result: api.BuildResult) -> None:
    if result.dry_run:
        click.echo("plan (dry run: nothing built, pushed or written):")
        for p in result.plan.images:
            click.echo(f"  {p.name:<16} {p.action.value:<5} {p.reason}")
        for key, members in result.plan.dependency_sets.items():
            if len(members) > 1:
                click.echo(f"  dependency set {key} shared by: {', '.join(members)}")
        return
    for image in result.images:
        if image.status == "failed":
            click.echo(f"FAILED {image.error}", err=True)
            if image.log_tail:
                for line in image.log_tail.splitlines():
                    click.echo(f"  | {line}", err=True)
        else:
            click.echo(f"{image.status:<8} {image.name:<16} {image.uri}  ({image.reason})")
    failed = [i.name for i in result.images if i.status == "failed"]
    summary = f"{len(result.images) - len(failed)} ok, {len(failed)} failed"
    click.echo(f"{summary} in {result.seconds:.1f}s; manifest: {result.manifest_path}")
