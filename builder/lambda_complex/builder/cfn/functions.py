"""The functions stack: one function per component, each with its own least-privilege role.

Image by digest (from the build manifest), memory, timeout, architecture, reserved concurrency =
`max_concurrency` (the hard cap the coordinator can never exceed), JSON logs into a log group with
retention, and `RecursiveLoop: Allow` for components on a routing cycle (cfn/recursion.py; the
envelope's `max_hops` guards those loops instead). The queues are found by exact name, so this
stack only depends on the queues stack for ordering, not through exports.

Failed asynchronous invocations (`async_failure_handling`): an invocation component's event is
its work, so after Lambda's two retries it goes to the component's dead-letter queue as an
on-failure record, which `lcbuild redrive` invokes again. A message component's invocation is
only a nudge (the work stays in its input queue, and the coordinator starts another): it is
neither retried nor recorded, so its dead-letter queue holds only input messages, and redrive
never puts a Lambda record into the input queue as if it were a message.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Output, Template

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App, Component
from lambda_complex.builder.cfn import common, iam
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.cfn.lambdas import FunctionSpec, add_function
from lambda_complex.builder.cfn.recursion import recursive_functions
from lambda_complex.runtime import names


def async_failure_handling(app: App, component: Component) -> tuple[int, str | None]:
    """(retry attempts, on-failure queue name or None) of the component's async invocations."""
    if component.has_queue:
        return 0, None
    return common.ASYNC_RETRY_ATTEMPTS, names.dead_letter_queue_name(app.name, component.name)


def function_spec(app: App, component: Component, image_uri: str) -> FunctionSpec:
    settings = component.lambda_
    function_name = names.function_name(app.name, component.name)
    retry_attempts, on_failure_queue = async_failure_handling(app, component)
    return FunctionSpec(
        key=component.name,
        function_name=function_name,
        role_name=naming.role_name(app.name, component.name),
        image_uri=image_uri,
        memory=settings.memory,
        timeout=settings.timeout,
        architecture=settings.architecture.value,
        policy=iam.component_policy(app, component),
        reserved_concurrency=component.max_concurrency,
        environment=dict(settings.environment),
        retry_attempts=retry_attempts,
        on_failure_queue=on_failure_queue,
        recursive_loop_allowed=function_name in recursive_functions(app),
    )


def render(app: App, images: Images) -> dict[str, Any]:
    template = Template(Description=f"lambda-complex {app.name} {app.version}: functions")
    for component in app.components:
        function = add_function(template, app,
                                function_spec(app, component, images.for_component(component.name)))
        template.add_output(Output(f"{naming.logical_id(component.name)}FunctionArn",
                                   Value=GetAtt(function, "Arn")))
    rendered: dict[str, Any] = template.to_dict()
    return rendered
