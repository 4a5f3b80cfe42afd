"""`lcbuild local invoke COMPONENT`: one component once, from its image or as a worker; prints
the handler's result or error, its log lines and where routing would send the result."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli.common import app_option, mode_option, report_user_errors
from lambda_complex.builder.errors import UserError
from lambda_complex.runtime.protocol import RouteKind


def parse_event(value: str) -> Any:
    """`--event`: JSON text, `@FILE` (a JSON file) or `-` (JSON on standard input)."""
    if value == "-":
        source, text = "standard input", sys.stdin.read()
    elif value.startswith("@"):
        path = Path(value[1:])
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise UserError(f"--event: cannot read {path}: {e.strerror or e}") from None
    else:
        source, text = "--event", value
    try:
        return json.loads(text)
    except ValueError as e:
        raise UserError(f"{source}: not JSON: {e}") from None


@click.command("invoke")
@click.argument("component")
@app_option
@click.option("--event", "event_text", default="{}", show_default=True, metavar="JSON|@FILE|-",
              help="The input: JSON, @FILE, or - for standard input. A message component gets "
                   "it as one message body, in a fresh envelope as `local run --send` makes.")
@mode_option("the built image (.lcbuild/images.json)")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--send-results", is_flag=True,
              help="Send the routed results to their targets in the running `lcbuild local "
                   "run` of this application (error if none is running).")
@report_user_errors
def invoke(component: str, app_file: Path, event_text: str, mode: api.Mode | None,
           as_json: bool, send_results: bool) -> None:
    """Run COMPONENT once on EVENT: no deploy, no emulator, nothing sent on unless
    --send-results. Routing is dry: the results are shown, not delivered. AWS is out of reach
    (a closed loopback endpoint, dummy credentials): a handler that calls AWS itself fails.
    Exit 0 when the handler succeeded, 1 when it failed (or its input was dead-lettered)."""
    app = api.load(app_file)
    event = parse_event(event_text)
    chosen = mode or api.default_local_mode(app.root)
    outcome = api.invoke_once(app, component, event, chosen, send_results=send_results)
    if as_json:
        click.echo(json.dumps({"mode": chosen, **outcome.to_dict()}, indent=2, default=str))
    else:
        _print(outcome)
    sys.exit(0 if outcome.ok else 1)


def _print(outcome: api.Outcome) -> None:
    for line in outcome.logs:
        click.echo(f"| {line}", err=True)
    if outcome.error is not None:
        click.echo(f"error: {outcome.error.get('errorType', 'error')}: "
                   f"{outcome.error.get('errorMessage', '')}")
    else:
        click.echo(f"result: {json.dumps(outcome.result, default=str)}")
    for route in outcome.routes:
        data = json.dumps(route.data, default=str)
        if route.kind == RouteKind.DEAD_LETTER:
            click.echo(f"would send to the dead-letter queue of {route.target}: {data}")
        elif route.sent:
            click.echo(f"sent to {route.target} ({route.kind}) in the running local run: {data}")
        else:
            click.echo(f"would route to {route.target} ({route.kind}): {data}")
    if not outcome.routes and outcome.ok:
        click.echo("would route nowhere (no routing targets)")
    reason = f": {outcome.reason}" if outcome.reason else ""
    click.echo(f"{outcome.component}: {outcome.outcome}{reason} "
               f"in {outcome.duration_ms:.0f} ms")
