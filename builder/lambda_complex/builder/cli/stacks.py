"""`lcbuild status`, `plan`, `pause`, `resume`, `redrive`, `trace`: the deployed application
(stacks, queues, coordinator, logs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lambda_complex.builder.cli import aws_errors
from lambda_complex.builder.cli.common import app_option, load_app, report_user_errors
from lambda_complex.builder.errors import UserError
from lambda_complex.runtime.control import PAUSED, RUNNING

if TYPE_CHECKING:
    from lambda_complex.builder.app.model import App
    from lambda_complex.builder.deploy.aws import Aws


local_option = click.option(
    "--local", is_flag=True,
    help="Talk to the application running under `lcbuild local run` instead of AWS.")


def _aws(app: App, local: bool) -> Aws:
    import boto3

    from lambda_complex.builder.deploy.aws import Aws  # boto3 only for commands that need it
    from lambda_complex.builder.local.run.files import endpoint_path

    if not local:
        return Aws(app.deployment.region)
    endpoint_file = endpoint_path(app.root)
    try:
        endpoints = json.loads(endpoint_file.read_text())
        endpoint, sqs, lam = endpoints["endpoint"], endpoints["sqs"], endpoints["lambda"]
    except FileNotFoundError:
        raise UserError(f"no `lcbuild local run` is running for {app.name} ({endpoint_file} "
                        f"does not exist): {aws_errors.LOCAL_HINT}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{endpoint_file} is not the endpoint file of a running `lcbuild local "
                        f"run` ({type(e).__name__}: {e}): {aws_errors.LOCAL_HINT}") from None
    keys = endpoints.get("credentials") or {}  # the run's deployer identity (IAM enforced)
    session = boto3.Session(aws_access_key_id=keys.get("AWS_ACCESS_KEY_ID", "testing"),
                            aws_secret_access_key=keys.get("AWS_SECRET_ACCESS_KEY", "testing"),
                            region_name=app.deployment.region)
    return Aws(app.deployment.region, session, endpoint, {"sqs": sqs, "lambda": lam})


@click.command()
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@local_option
@report_user_errors
def status(app_file: Path, as_json: bool, local: bool) -> None:
    """Queue depth, in flight, dead-lettered and limit per component; coordinator chains alive,
    last coordinator run; running, paused or deploying."""
    from lambda_complex.builder.deploy import status as status_mod

    app = load_app(app_file)
    result = status_mod.gather(app, _aws(app, local))
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json
               else status_mod.format_text(result))


def _set_dispatch(app_file: Path, local: bool, value: str) -> None:
    from lambda_complex.builder.deploy import pause as control

    app = load_app(app_file)
    before, after = control.set_state(app, _aws(app, local), value)
    click.echo(f"{app.name}: {before} -> {after}")


@click.command()
@app_option
@local_option
@report_user_errors
def pause(app_file: Path, local: bool) -> None:
    """Stop dispatching (the coordinator starts nothing); nothing is deleted."""
    _set_dispatch(app_file, local, PAUSED)


@click.command()
@app_option
@local_option
@report_user_errors
def resume(app_file: Path, local: bool) -> None:
    """Start dispatching again."""
    _set_dispatch(app_file, local, RUNNING)


@click.command()
@click.argument("component")
@app_option
@click.option("--limit", type=click.IntRange(min=1), help="Move at most this many dead letters.")
@click.option("--queue", metavar="NAME",
              help="Take them from this queue of the application instead (e.g. the retained "
                   "dead-letter queue of a removed component).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@local_option
@report_user_errors
def redrive(app_file: Path, component: str, limit: int | None, queue: str | None,
            as_json: bool, local: bool) -> None:
    """Put COMPONENT's dead letters back to work (fix their cause first): messages go back into
    its queue; an invocation component's failed events are invoked again."""
    from lambda_complex.builder.deploy import redrive as redrive_mod

    app = load_app(app_file)
    result = redrive_mod.redrive(app, _aws(app, local), component, limit, queue)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(f"{result.moved} dead letter(s) from {result.source} to {result.target}; "
                   f"{result.left} left")
        if result.skipped:
            click.echo(f"{result.skipped} Lambda on-failure record(s) of failed nudges left in "
                       f"{result.source}: they are not messages (see docs/deploy.md)")


@click.command()
@click.argument("trace_id")
@app_option
@click.option("--since", "since_minutes", type=click.IntRange(min=1), default=60,
              show_default=True, help="Search the logs of the last this many minutes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the list of steps).")
@click.option("--local", is_flag=True,
              help="Read the logs of the last `lcbuild local run` instead of CloudWatch Logs.")
@report_user_errors
def trace(app_file: Path, trace_id: str, since_minutes: int, as_json: bool, local: bool) -> None:
    """Follow one input through the application: every component's log line for TRACE_ID (the
    envelope's `trace_id`, in every message, dead letter and log line), in time order."""
    from lambda_complex.builder.deploy import trace as trace_mod

    app = load_app(app_file)
    if local:
        from lambda_complex.builder.local.run import files as run_files

        found = trace_mod.steps(run_files.LogTail(run_files.log_dir(app)).poll(), trace_id)
    else:
        found = trace_mod.from_cloudwatch(app, _aws(app, False), trace_id, since_minutes * 60)
    click.echo(json.dumps(found, indent=2) if as_json else trace_mod.format_text(trace_id, found))


@click.command()
@app_option
@click.option("--force-remove", is_flag=True, envvar="LCBUILD_FORCE_REMOVE",
              help="As the deploy with LCBUILD_FORCE_REMOVE=1: removed components' messages go "
                   "to their dead-letter queues instead of refusing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@local_option
@report_user_errors
def plan(app_file: Path, force_remove: bool, as_json: bool, local: bool) -> None:
    """What the next `sceptre launch prod` would do to the deployed queues (create, move with
    their messages, remove, refuse), without changing anything. Exit 1 if it would be refused.
    Template changes: `sceptre diff prod`."""
    from lambda_complex.builder.deploy import preview

    app = load_app(app_file)
    result = preview.preview(app, _aws(app, local), force_remove)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else preview.format_text(result))
    if result.refused:
        sys.exit(1)
