"""`lcbuild local run`: the application on the embedded testbed (emulator + sceptre deploy + local
Lambda service + schedules), driven by `--send`, observed live, reported as JSON."""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli import local_invoke
from lambda_complex.builder.cli.common import app_option, mode_option, report_user_errors
from lambda_complex.builder.errors import UserError


def parse_send(value: str, *, from_file: bool) -> tuple[str, list[Any]]:
    """`NAME=JSON` (or `NAME=@FILE`), `NAME=FILE` with from_file: the inputs for NAME. A `.jsonl`
    file holds one input per line; any other file is one JSON input."""
    name, sep, rest = value.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{value!r} is not NAME=...")
    if from_file or rest.startswith("@"):
        path = Path(rest.removeprefix("@"))
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".jsonl":
                return name, [json.loads(line) for line in text.splitlines() if line.strip()]
            return name, [json.loads(text)]
        except (OSError, ValueError) as e:
            raise click.BadParameter(f"{path}: {e}") from None
    try:
        return name, [json.loads(rest)]
    except ValueError as e:
        raise click.BadParameter(f"{name}: not JSON: {e}") from None


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops the testbed as cleanly as Ctrl-C


@click.group()
def local() -> None:
    """Run the application on this machine."""


@local.command()
@app_option
@mode_option("the built images")
@click.option("--send", "sends", multiple=True, metavar="NAME=JSON",
              help="An input for component NAME (JSON, or @FILE). Repeatable.")
@click.option("--send-file", "send_files", multiple=True, metavar="NAME=FILE",
              help="Inputs for NAME from a JSON file (.jsonl: one per line). Repeatable.")
@click.option("--until-idle", is_flag=True,
              help="Return when every queue is empty and nothing is in flight.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the JSON report here.")
@click.option("--timeout", type=float, default=None,
              help="Seconds to wait (with --until-idle: give up after; default 600; "
                   "without: run this long, default until Ctrl-C).")
@click.option("--no-iam", is_flag=True,
              help="Do not enforce IAM in the emulator (every call allowed; a warning says so).")
@click.option("--timings", is_flag=True,
              help="Print each progress line with the seconds since the start, and the "
                   "start's phases (what ran side by side, how long each took).")
@report_user_errors
def run(app_file: Path, mode: api.Mode | None, sends: tuple[str, ...], send_files: tuple[str, ...],
        until_idle: bool, report_file: Path | None, timeout: float | None,
        no_iam: bool, timings: bool) -> None:
    """Deploy to the embedded AWS emulator, run, print what happened; exit 1 if anything is
    lost (or, with --until-idle, if it never went idle)."""
    app = api.load(app_file)
    inputs = [parse_send(v, from_file=False) for v in sends]
    inputs += [parse_send(v, from_file=True) for v in send_files]
    unknown = sorted({name for name, _ in inputs} - set(app.component_names))
    if unknown:
        raise UserError(f"--send: no component {', '.join(map(repr, unknown))} in {app.name}")
    chosen = mode or api.default_local_mode(app.root)
    signal.signal(signal.SIGTERM, _terminate)
    idle = True
    with api.run_locally(app_file, chosen, say=_say, iam=not no_iam, timings=timings,
                         inputs=inputs) as bed:  # sent before the schedules first fire
        bed.say(f"sent {bed.sent} input(s); logs in {bed.log_dir}")
        redeploy = api.redeploy_on_hangup(bed, _say)
        view = api.LiveView(bed)

        def tick() -> None:
            redeploy()
            bed.check_started()  # a function that cannot start ends any run
            view.update()

        try:
            if until_idle:
                idle = bed.wait_idle(timeout if timeout is not None else 600.0, on_tick=tick)
            else:
                _run_for(timeout, tick)
        finally:
            view.close()
        result = bed.report()
        objects = bed.s3_objects()
    _print_summary(result, objects, idle)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["totals"]["lost"] == 0 and idle else 1)


def _say(message: str) -> None:
    """The run's own messages go to stderr: stdout holds the summary."""
    click.echo(message, err=True)


@local.command()
@app_option
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="Seconds to wait for the running run to apply it.")
@report_user_errors
def deploy(app_file: Path, timeout: float) -> None:
    """Apply the changed definition to the running `lcbuild local run`, through the same Sceptre
    stack group and switchover as a deploy to AWS (renamed components' messages move along)."""
    app = api.load(app_file)  # a definition that does not load is refused here, nothing sent
    api.local_deploy(app, timeout)
    click.echo(f"{app.name}: redeployed to the running local run")


def _run_for(timeout: float | None, tick: Callable[[], None]) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while deadline is None or time.monotonic() < deadline:
            tick()
            time.sleep(0.5)
    except KeyboardInterrupt:
        click.echo("interrupted: reporting and stopping", err=True)


def _print_summary(result: dict[str, Any], objects: dict[str, list[str]], idle: bool) -> None:
    for bucket, keys in objects.items():
        click.echo(f"s3://{bucket}: {len(keys)} object(s)")
        for key in keys:
            click.echo(f"  {key}")
    click.echo(f"{'component':<16} {'invoc':>6} {'handled':>8} {'ok':>6} {'failed':>7} "
               f"{'dlq':>5} {'max conc':>9}")
    for name, c in result["components"].items():
        click.echo(f"{name:<16} {c['invocations']:>6} {c['handled']:>8} {c['succeeded']:>6} "
                   f"{c['failed']:>7} {c['dead_lettered']:>5} {c['max_concurrency_observed']:>9}")
    totals = result["totals"]
    click.echo(f"sent {totals['sent']}, dead-lettered {totals['dead_lettered']}, "
               f"lost {totals['lost']}" + ("" if idle else " (NOT idle at the timeout)"))


local.add_command(local_invoke.invoke)  # `lcbuild local invoke`
