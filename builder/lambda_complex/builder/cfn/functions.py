"""The functions stack: one function per component, each with its own least-privilege role.

Image by digest (from the build manifest), memory, timeout, architecture, reserved concurrency =
`max_concurrency` (the hard cap the coordinator can never exceed), JSON logs into a log group with
retention, and the component's dead-letter queue as on-failure destination of asynchronous
invocations (after Lambda's two retries). The queues are found by exact name, so this stack only
depends on the queues stack for ordering, not through exports.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Output, Template

from lambda_complex.builder.app.model import App, Component
from lambda_complex.builder.cfn import iam
from lambda_complex.builder.cfn.lambdas import FunctionSpec, add_function
from lambda_complex.builder.deploy.images import Images
from lambda_complex.runtime import names


def function_spec(app: App, component: Component, image_uri: str) -> FunctionSpec:
    settings = component.lambda_
    return FunctionSpec(
        key=component.name,
        function_name=names.function_name(app.name, component.name),
        role_name=names.role_name(app.name, component.name),
        image_uri=image_uri,
        memory=settings.memory,
        timeout=settings.timeout,
        architecture=settings.architecture.value,
        policy=iam.component_policy(app, component),
        reserved_concurrency=component.max_concurrency,
        environment=dict(settings.environment),
        on_failure_queue=names.dead_letter_queue_name(app.name, component.name),
    )


def render(app: App, images: Images) -> dict[str, Any]:
    template = Template(Description=f"lambda-complex {app.name} {app.version}: functions")
    for component in app.components:
        function = add_function(template, app,
                                function_spec(app, component, images.for_component(component.name)))
        template.add_output(Output(f"{names.logical_id(component.name)}FunctionArn",
                                   Value=GetAtt(function, "Arn")))
    rendered: dict[str, Any] = template.to_dict()
    return rendered
