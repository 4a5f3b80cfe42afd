"""Operating the deployed application (`lcbuild status`, `pause`, `resume`, `redrive`,
`trace`): on AWS, or with `local=True` on the application a `lcbuild local run` is running.
boto3 is imported on the first call, not with the API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lambda_complex.builder.app.model import App
from lambda_complex.runtime.control import PAUSED, RUNNING

if TYPE_CHECKING:
    from lambda_complex.builder.deploy.aws import Aws
    from lambda_complex.builder.deploy.pause import Switched
    from lambda_complex.builder.deploy.redrive import Redriven
    from lambda_complex.builder.deploy.status import Status
    from lambda_complex.builder.deploy.trace import Step

__all__ = ["connect", "pause", "pause_text", "redrive", "resume", "status", "status_text",
           "trace", "trace_text"]


def connect(app: App, local: bool = False) -> Aws:
    """The AWS clients for `app`: its region's, or (`local`) those of its running local run,
    with that run's deployer identity (its emulator enforces IAM). A UserError when no local
    run is there."""
    import boto3

    from lambda_complex.builder.deploy.aws import Aws
    from lambda_complex.builder.local.run import files

    if not local:
        return Aws(app.deployment.region)
    found = files.read_endpoints(app)
    keys = found.credentials
    session = boto3.Session(aws_access_key_id=keys.get("AWS_ACCESS_KEY_ID", "testing"),
                            aws_secret_access_key=keys.get("AWS_SECRET_ACCESS_KEY", "testing"),
                            region_name=app.deployment.region)
    return Aws(app.deployment.region, session, found.endpoint,
               {"sqs": found.sqs, "lambda": found.lambda_url})


def status(app: App, local: bool = False) -> Status:
    """Per component: queue depth, in flight, dead-lettered, limit, dispatch kind and event
    source mapping state; coordinator chains alive, last coordinator run; running, paused or
    deploying."""
    from lambda_complex.builder.deploy.status import gather

    return gather(app, connect(app, local))


def status_text(result: Status) -> str:
    from lambda_complex.builder.deploy.status import format_text

    return format_text(result)


def pause(app: App, local: bool = False) -> Switched:
    """Stop dispatching (the coordinator starts nothing, the message components' event source
    mappings are disabled; nothing is deleted): the control value before and after, and what
    happened to each mapping."""
    from lambda_complex.builder.deploy.pause import set_state

    return set_state(app, connect(app, local), PAUSED)


def resume(app: App, local: bool = False) -> Switched:
    """Start dispatching again (the control value `running`, the mappings enabled)."""
    from lambda_complex.builder.deploy.pause import set_state

    return set_state(app, connect(app, local), RUNNING)


def pause_text(app: App, result: Switched) -> str:
    """What `pause` or `resume` did, as `lcbuild pause`/`resume` print it."""
    from lambda_complex.builder.deploy.pause import format_text

    return format_text(app.name, result)


def redrive(app: App, component: str, limit: int | None = None, queue: str | None = None,
            local: bool = False) -> Redriven:
    """Put `component`'s dead letters (or those of `queue`, another queue of the app) back to
    work: messages into its queue, an invocation component's failed events invoked again."""
    from lambda_complex.builder.deploy.redrive import redrive as redrive_dead_letters

    return redrive_dead_letters(app, connect(app, local), component, limit, queue)


def trace(app: App, trace_id: str, since_s: int = 3600, local: bool = False) -> list[Step]:
    """Every component's log line for `trace_id`, in causal order: from CloudWatch Logs of the
    last `since_s` seconds, or (`local`) from the last local run's log files."""
    from lambda_complex.builder.deploy.trace import from_cloudwatch, steps

    if local:
        from lambda_complex.builder.local.run.files import LogTail, log_dir

        return steps(LogTail(log_dir(app)).poll(), trace_id)
    return from_cloudwatch(app, connect(app), trace_id, since_s)


def trace_text(trace_id: str, found: list[Step]) -> str:
    from lambda_complex.builder.deploy.trace import format_text

    return format_text(trace_id, found)
