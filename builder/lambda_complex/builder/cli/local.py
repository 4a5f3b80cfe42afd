"""`lcbuild local run`: the application on the embedded testbed (emulator + sceptre deploy + local
Lambda service + schedules), driven by `--send`, observed live, reported as JSON."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from lambda_complex.builder.cli import local_invoke
from lambda_complex.builder.cli.common import (
    app_option,
    default_local_mode,
    load_app,
    report_user_errors,
)
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
@click.option("--mode", type=click.Choice(["container", "process"]), default=None,
              help="container: the built images; process: worker processes from the sources. "
                   "Default: container when Docker answers and .lcbuild/images.json exists.")
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
@report_user_errors
def run(app_file: Path, mode: str | None, sends: tuple[str, ...], send_files: tuple[str, ...],
        until_idle: bool, report_file: Path | None, timeout: float | None,
        no_iam: bool) -> None:
    """Deploy to the embedded AWS emulator, run, print what happened; exit 1 if anything is
    lost (or, with --until-idle, if it never went idle)."""
    from lambda_complex.builder.local.aws import stack_group
    from lambda_complex.builder.local.run import live_view as progress
    from lambda_complex.builder.local.run import testbed

    app = load_app(app_file)
    inputs = [parse_send(v, from_file=False) for v in sends]
    inputs += [parse_send(v, from_file=True) for v in send_files]
    unknown = sorted({name for name, _ in inputs} - set(app.component_names))
    if unknown:
        raise UserError(f"--send: no component {', '.join(map(repr, unknown))} in {app.name}")
    chosen = mode or default_local_mode(app.root)
    signal.signal(signal.SIGTERM, _terminate)
    show = progress.Progress()
    idle = True
    try:
        with testbed.Testbed(app_file, chosen, say=lambda m: click.echo(m, err=True),  # type: ignore[arg-type]
                             iam=not no_iam) as tb:
            for name, items in inputs:
                tb.send_many(name, items)
            click.echo(f"sent {tb.sent} input(s); logs in {tb.log_dir}", err=True)

            redeploy = _redeploy_on_hangup(tb)

            def tick() -> None:
                redeploy()
                tb.check_started()  # a function that cannot start ends any run
                show.update(progress.rows(tb.components, tb.queues(), tb.stats(), tb.logs.poll()))

            if until_idle:
                idle = tb.wait_idle(timeout if timeout is not None else 600.0, on_tick=tick)
            else:
                _run_for(timeout, tick)
            show.close()
            result = tb.report()
            objects = tb.s3_objects()
    except stack_group.DeployError as e:
        raise UserError(str(e)) from None
    finally:
        show.close()
    _print_summary(result, objects, idle)
    if report_file is not None:
        report_file.parent.mkdir(parents=True, exist_ok=True)
        report_file.write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["totals"]["lost"] == 0 and idle else 1)


def _redeploy_on_hangup(tb: Any) -> Any:
    """SIGHUP (sent by `lcbuild local deploy`) makes the run apply the definition on disk; the
    returned function does it between two ticks, in this thread, and records the outcome."""
    from lambda_complex.builder.local.aws import stack_group
    from lambda_complex.builder.local.run import files as run_files

    asked = threading.Event()
    signal.signal(signal.SIGHUP, lambda signum, frame: asked.set())
    handled = 0

    def apply() -> None:
        nonlocal handled
        if not asked.is_set():
            return
        asked.clear()
        click.echo("redeploying the changed definition", err=True)
        error: str | None = None
        try:
            tb.redeploy()
        except (UserError, stack_group.DeployError) as e:
            error = str(e)
            click.echo(f"redeploy refused: {error}", err=True)
        handled += 1
        run_files.redeploy_path(tb.app.root).write_text(
            json.dumps({"handled": handled, "ok": error is None, "error": error}) + "\n")

    return apply


@local.command()
@app_option
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="Seconds to wait for the running run to apply it.")
@report_user_errors
def deploy(app_file: Path, timeout: float) -> None:
    """Apply the changed definition to the running `lcbuild local run`, through the same Sceptre
    stack group and switchover as a deploy to AWS (renamed components' messages move along)."""
    import os

    from lambda_complex.builder.local.run import files as run_files

    app = load_app(app_file)  # a definition that does not load is refused here, nothing sent
    endpoints = run_files.read_json(run_files.endpoint_path(app.root))
    if endpoints is None or not isinstance(endpoints.get("pid"), int):
        raise UserError(f"no `lcbuild local run` is running for {app.name}: start one first")
    outcome = run_files.redeploy_path(app.root)
    before = (run_files.read_json(outcome) or {}).get("handled", 0)
    try:
        os.kill(endpoints["pid"], signal.SIGHUP)
    except ProcessLookupError:
        raise UserError(f"the `lcbuild local run` of {app.name} is gone (pid "
                        f"{endpoints['pid']}): start a new one") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = run_files.read_json(outcome) or {}
        if done.get("handled", 0) > before:
            if not done.get("ok"):
                raise UserError(f"redeploy failed: {done.get('error')}")
            click.echo(f"{app.name}: redeployed to the running local run")
            return
        time.sleep(0.5)
    raise UserError(f"the running local run did not apply the redeploy within {timeout:.0f} s")


def _run_for(timeout: float | None, tick: Any) -> None:
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
