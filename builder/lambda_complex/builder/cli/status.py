"""`lcbuild status`: the deployed application's queues, coordinator chains and dispatch state;
with --watch, again every --interval seconds until Ctrl-C (a table redrawn in place on a
terminal, the whole text again elsewhere)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, local_option, report_user_errors


@click.command()
@app_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@local_option
@click.option("--watch", is_flag=True,
              help="Refresh every --interval seconds until Ctrl-C: a live table on a terminal "
                   "(one JSON object a line with --json).")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              metavar="SECONDS", help="Seconds between two refreshes of --watch.")
@report_user_errors
def status(app_file: Path, as_json: bool, local: bool, watch: bool, interval: float) -> None:
    """Queue depth, in flight, dead-lettered and limit per component; coordinator chains alive,
    last coordinator run; running, paused or deploying."""
    app = api.load(app_file)
    if not watch:
        result = api.status(app, local)
        click.echo(json.dumps(result.to_dict(), indent=2) if as_json else api.status_text(result))
        return
    screen = None if as_json else api.live_screen(sys.stdout)
    try:
        while True:
            result = api.status(app, local)
            if screen is not None:
                screen.draw(api.status_lines(result, screen.width(), screen.color, interval))
            elif as_json:
                click.echo(json.dumps(result.to_dict()))
            else:
                click.echo(api.status_text(result) + "\n")
            time.sleep(interval)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a watch ends: exit 0
    finally:
        if screen is not None:
            screen.close()
