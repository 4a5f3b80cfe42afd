"""The application's Lambda functions as plain data: one `FunctionSpec` per function (every
component, the coordinator, the invoker). The functions and coordinator stacks render from these
specs, and the local Lambda service defines its functions from the same specs, so a setting
(timeout, memory, reserved concurrency, environment, handler, on-failure destination, retries,
recursion) is decided once, here.

Failed asynchronous invocations (`async_failure_handling`): an invocation component's event is
its work, so after Lambda's two retries it goes to the component's dead-letter queue as an
on-failure record, which `lcbuild redrive` invokes again. A message component's invocation is
only a nudge (the work stays in its input queue, and the coordinator starts another): it is
neither retried nor recorded, so its dead-letter queue holds only input messages, and redrive
never puts a Lambda record into the input queue as if it were a message.

A native component (`dispatch: native`) has an SQS event source mapping on its input queue
(`EventSourceSpec`): the local Lambda service's pollers and the templates read the same spec.

Asynchronous invocations of the coordinator and invoker are never retried by Lambda: a
generation retried a minute later would only compete with the one the schedule starts by then
(chains.replaced_within_s), and a retried fan-out would duplicate the invocations that did
succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App, Component
from lambda_complex.builder.cfn import common, iam
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.cfn.recursion import recursive_functions
from lambda_complex.runtime import entrypoints, names

INVOKER_TIMEOUT = 120
COORDINATOR_ARCHITECTURE = "x86_64"
# Every function logs JSON lines (LoggingConfig.LogFormat): the runtime's log lines are JSON, and
# the local run reads them back.
LOG_FORMAT = "JSON"
# An event source mapping's FunctionResponseTypes entry: the function's response names the
# records that failed, the rest of the batch is deleted.
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True)
class EventSourceSpec:
    """The SQS event source mapping that starts a native component: Lambda polls `queue_name`
    and invokes the function with batches of up to `batch_size` records gathered for at most
    `batching_window` seconds, never more than `max_concurrency` at once; the function names
    the records that failed (ReportBatchItemFailures), the others are deleted.
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""

    queue_name: str
    batch_size: int
    batching_window: int
    max_concurrency: int  # ScalingConfig.MaximumConcurrency (2..1000: the loader checks it)
    report_batch_item_failures: bool = True
    enabled: bool = True


@dataclass(frozen=True)
class FunctionSpec:
    key: str  # component name, or coordinator / invoker: the logical-ID stem
    function_name: str
    role_name: str
    image_name: str  # which of the application's images it runs: a component's or coordinator
    image_uri: str  # that image, by digest ("" where the caller has none, e.g. process mode)
    handler: str  # the runtime entry point it runs (runtime.entrypoints)
    image_cmd: str  # the CMD its image sets; where `handler` differs, ImageConfig overrides it
    memory: int
    timeout: int
    architecture: str
    policy: iam.PolicyDocument
    reserved_concurrency: int | None = None
    environment: dict[str, str] = field(default_factory=dict)
    retry_attempts: int = common.ASYNC_RETRY_ATTEMPTS
    on_failure_queue: str | None = None  # the dead-letter queue name of async invocations
    # Lambda stops a function invoked ~16 times in one request chain unless this is Allow
    # (https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html); cfn/recursion.py
    # decides which functions loop on purpose.
    recursive_loop_allowed: bool = False
    log_format: str = LOG_FORMAT
    event_source: EventSourceSpec | None = None  # a native component's mapping

    @property
    def command(self) -> tuple[str, ...]:
        """ImageConfig.Command: empty when the image's CMD is the handler."""
        return () if self.handler == self.image_cmd else (self.handler,)


def async_failure_handling(app: App, component: Component) -> tuple[int, str | None]:
    """(retry attempts, on-failure queue name or None) of the component's async invocations."""
    if component.has_queue:
        return 0, None
    return common.ASYNC_RETRY_ATTEMPTS, names.dead_letter_queue_name(app.name, component.name)


def event_source_spec(app: App, component: Component) -> EventSourceSpec | None:
    """The mapping of a native component on its own input queue; None for any other."""
    if not component.native:
        return None
    return EventSourceSpec(
        queue_name=names.queue_name(app.name, component.name),
        batch_size=component.batch_size,
        batching_window=component.batching_window,
        max_concurrency=component.max_concurrency,
    )


def component_spec(app: App, component: Component, image_uri: str) -> FunctionSpec:
    settings = component.lambda_
    function_name = names.function_name(app.name, component.name)
    retry_attempts, on_failure_queue = async_failure_handling(app, component)
    return FunctionSpec(
        key=component.name,
        function_name=function_name,
        role_name=naming.role_name(app.name, component.name),
        image_name=component.name,
        image_uri=image_uri,
        handler=entrypoints.WRAPPER_HANDLER,
        image_cmd=entrypoints.WRAPPER_HANDLER,
        memory=settings.memory,
        timeout=settings.timeout,
        architecture=settings.architecture.value,
        policy=iam.component_policy(app, component),
        # The hard cap the coordinator can never exceed, and the only cap of an invocation
        # component. For a native one it equals the mapping's MaximumConcurrency, as AWS advises
        # (reserved concurrency at least the maximum concurrency, or batches are throttled:
        # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
        reserved_concurrency=component.max_concurrency,
        environment=dict(settings.environment),
        retry_attempts=retry_attempts,
        on_failure_queue=on_failure_queue,
        recursive_loop_allowed=function_name in recursive_functions(app),
        event_source=event_source_spec(app, component),
    )


def coordinator_spec(app: App, image_uri: str) -> FunctionSpec:
    return FunctionSpec(
        key=names.COORDINATOR,
        function_name=names.function_name(app.name, names.COORDINATOR),
        role_name=naming.role_name(app.name, names.COORDINATOR),
        image_name=names.COORDINATOR,
        image_uri=image_uri,
        handler=entrypoints.COORDINATOR_HANDLER,
        image_cmd=entrypoints.COORDINATOR_HANDLER,
        memory=app.coordinator.memory,
        timeout=app.coordinator.timeout,
        architecture=COORDINATOR_ARCHITECTURE,
        policy=iam.coordinator_policy(app),
        retry_attempts=0,
        recursive_loop_allowed=True,  # recursion.recursive_functions: the chain invokes itself
    )


def invoker_spec(app: App, image_uri: str) -> FunctionSpec:
    """The coordinator's image with the invoker's handler as its command."""
    return FunctionSpec(
        key=names.INVOKER,
        function_name=names.function_name(app.name, names.INVOKER),
        role_name=naming.role_name(app.name, names.INVOKER),
        image_name=names.COORDINATOR,
        image_uri=image_uri,
        handler=entrypoints.INVOKER_HANDLER,
        image_cmd=entrypoints.COORDINATOR_HANDLER,
        memory=app.coordinator.memory,
        timeout=INVOKER_TIMEOUT,
        architecture=COORDINATOR_ARCHITECTURE,
        policy=iam.invoker_policy(app),
        retry_attempts=0,
        recursive_loop_allowed=True,  # recursion.recursive_functions: it fans out to invokers
    )


def component_specs(app: App, images: Images) -> list[FunctionSpec]:
    """The functions stack's functions: one per component, in definition order."""
    return [component_spec(app, c, images.for_component(c.name)) for c in app.components]


def coordinator_specs(app: App, images: Images) -> list[FunctionSpec]:
    """The coordinator stack's functions: coordinator and invoker, one image."""
    return [coordinator_spec(app, images.coordinator), invoker_spec(app, images.coordinator)]


def function_specs(app: App, images: Images) -> list[FunctionSpec]:
    """Every function of the application."""
    return [*component_specs(app, images), *coordinator_specs(app, images)]
