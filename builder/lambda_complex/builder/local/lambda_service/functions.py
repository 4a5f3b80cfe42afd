"""Function definitions for the local Lambda service: what to run, and under which limits.

A definition comes from two places. `from_app` takes the application's function specs, the same
ones the templates render from (`cfn/function_specs.py`), and adds what process mode needs (the
source folder, the compiled runtime config). The emulator (moto) holds what was deployed:
timeout, memory, environment, reserved concurrency, the image URI, the role; but it drops
`ImageConfig` (the CMD), every invoke config (retries, the on-failure destination) and
`RecursiveLoop`. `merge` joins both: what was deployed wins where moto keeps it, since a deployed
function is what production would run (it may have been updated since the definition was
rendered); the specs give everything moto drops.

A native component's SQS event source mapping (`EventSource`) comes from the same spec; moto
keeps every setting of a mapping, so the pollers (`event_source_pollers`) read the deployed
mappings, and this copy is what they are checked against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lambda_complex.builder.local.aws.account import ACCOUNT_ID, REGION
from lambda_complex.builder.local.lambda_service.loop_detection import ALLOW, TERMINATE
from lambda_complex.runtime import names

if TYPE_CHECKING:
    from lambda_complex.builder.app.model import App

# Lambda's defaults when a function does not say.
DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128


@dataclass(frozen=True)
class EventSource:
    """The SQS event source mapping the templates give a function (`EventSourceSpec`)."""

    queue_arn: str
    batch_size: int
    window: int  # MaximumBatchingWindowInSeconds
    max_concurrency: int  # ScalingConfig.MaximumConcurrency
    report_item_failures: bool  # FunctionResponseTypes has ReportBatchItemFailures
    enabled: bool = True


@dataclass(frozen=True)
class FunctionDefinition:
    name: str
    handler: str  # the image CMD: `module.function`
    timeout: float = DEFAULT_TIMEOUT  # seconds
    memory: int = DEFAULT_MEMORY  # MiB
    reserved_concurrency: int | None = None  # None: unreserved (the service's default cap)
    environment: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None  # container mode: a local image reference
    code_path: Path | None = None  # process mode: LAMBDA_TASK_ROOT, the handler's folder
    config_json: str | None = None  # compiled runtime config (lambda_complex_config.json)
    on_failure: str | None = None  # SQS queue ARN or URL for failed asynchronous invocations
    max_retry_attempts: int = 2  # of a failed asynchronous invocation (EventInvokeConfig), 0..2
    log_format: str | None = None  # LoggingConfig.LogFormat (Text | JSON): AWS_LAMBDA_LOG_FORMAT
    role: str | None = None  # the execution role's ARN: its credentials run the instances
    recursive_loop: str = TERMINATE  # RecursiveLoop (Allow | Terminate)
    event_source: EventSource | None = None  # a native component's mapping
    region: str = REGION
    account_id: str = ACCOUNT_ID

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


def queue_arn(queue: str, region: str = REGION, account_id: str = ACCOUNT_ID) -> str:
    return f"arn:aws:sqs:{region}:{account_id}:{queue}"


def function_name_from(identifier: str) -> str:
    """Invoke accepts a name, a full ARN or a partial ARN (`123456789012:function:name`), each
    optionally with `:qualifier`; the local service has only $LATEST: the qualifier is dropped."""
    if ":function:" in identifier:
        identifier = identifier.split(":function:", 1)[1]
    return identifier.split(":", 1)[0]


def local_images(manifest: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """`from_app`'s `images` from the build manifest's entries (`images/manifest.read`): the local
    image id where the build recorded one (the engine has it, whatever the registry), else URI."""
    found: dict[str, str] = {}
    for name, entry in manifest.items():
        reference = entry.get("image_id") or entry.get("uri")
        if reference:
            found[name] = str(reference)
    return found


def from_emulator(client: Any) -> list[FunctionDefinition]:
    """The deployed functions, read through `client`: a boto3 Lambda client for the emulator.

    The handler is moto's `Handler` or empty: for image functions the real one comes from
    `merge`."""
    found: list[FunctionDefinition] = []
    for page in client.get_paginator("list_functions").paginate():
        for f in page["Functions"]:
            name = f["FunctionName"]
            code = client.get_function(FunctionName=name).get("Code", {})
            reserved = client.get_function_concurrency(FunctionName=name).get(
                "ReservedConcurrentExecutions"
            )
            arn_parts = f["FunctionArn"].split(":")
            found.append(
                FunctionDefinition(
                    name=name,
                    handler=f.get("Handler") or "",
                    timeout=f.get("Timeout", DEFAULT_TIMEOUT),
                    memory=f.get("MemorySize", DEFAULT_MEMORY),
                    reserved_concurrency=reserved,
                    environment=dict(f.get("Environment", {}).get("Variables", {})),
                    image=code.get("ImageUri"),
                    role=f.get("Role"),
                    region=arn_parts[3],
                    account_id=arn_parts[4],
                )
            )
    return found


def from_app(
    app: App,
    images: Mapping[str, str] | None = None,
    account_id: str = ACCOUNT_ID,
) -> list[FunctionDefinition]:
    """Every function of the application (components, coordinator, invoker), as its function
    specs define it for the templates.

    `images` maps a component name (or `coordinator`) to a local image reference (the build
    manifest's); without one a function has no image (process mode runs its code instead)."""
    # Imported here: the templates' modules cost import time a worker process does not need.
    from lambda_complex.builder.app import compile as compile_mod
    from lambda_complex.builder.cfn.function_specs import function_specs
    from lambda_complex.builder.cfn.images import Images

    images = images or {}
    local = Images(
        components={name: images.get(name, "") for name in app.component_names},
        coordinator=images.get(names.COORDINATOR, ""),
    )
    region = app.deployment.region
    coordinator_config = compile_mod.for_coordinator(app).to_json()
    found: list[FunctionDefinition] = []
    for spec in function_specs(app, local):
        component = None if spec.image_name == names.COORDINATOR else app.component(spec.key)
        on_failure = spec.on_failure_queue
        source = spec.event_source
        found.append(
            FunctionDefinition(
                name=spec.function_name,
                handler=spec.handler,
                timeout=spec.timeout,
                memory=spec.memory,
                reserved_concurrency=spec.reserved_concurrency,
                environment=dict(spec.environment),
                image=spec.image_uri or None,
                code_path=None if component is None else component.lambda_.path,
                config_json=(
                    coordinator_config
                    if component is None
                    else compile_mod.for_component(app, component.name).to_json()
                ),
                on_failure=(
                    None if on_failure is None else queue_arn(on_failure, region, account_id)
                ),
                max_retry_attempts=spec.retry_attempts,
                log_format=spec.log_format,
                recursive_loop=ALLOW if spec.recursive_loop_allowed else TERMINATE,
                event_source=None if source is None else EventSource(
                    queue_arn=queue_arn(source.queue_name, region, account_id),
                    batch_size=source.batch_size,
                    window=source.batching_window,
                    max_concurrency=source.max_concurrency,
                    report_item_failures=source.report_batch_item_failures,
                    enabled=source.enabled,
                ),
                region=region,
                account_id=account_id,
            )
        )
    return found


def merge(
    deployed: Iterable[FunctionDefinition], defined: Iterable[FunctionDefinition]
) -> list[FunctionDefinition]:
    """Deployed settings win (they are what production would run), except what moto cannot keep:
    the CMD, the on-failure destination, the recursive loop setting, the source folder and config,
    and a local image (moto's image URI names a registry the local engine may not have)."""
    by_name = {d.name: d for d in deployed}
    merged: list[FunctionDefinition] = []
    for d in defined:
        live = by_name.pop(d.name, None)
        if live is None:
            merged.append(d)
            continue
        merged.append(
            replace(
                d,
                timeout=live.timeout,
                memory=live.memory,
                reserved_concurrency=(
                    live.reserved_concurrency
                    if live.reserved_concurrency is not None
                    else d.reserved_concurrency
                ),
                environment={**d.environment, **live.environment},
                image=d.image or live.image,
                role=live.role or d.role,
            )
        )
    # Deployed but not defined (made by hand): run as moto knows them, if they have a handler.
    merged.extend(live for live in by_name.values() if live.handler)
    return merged
