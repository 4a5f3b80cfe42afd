"""The functions stack: one function per component, each with its own least-privilege role.

Image by digest (from the build manifest), memory, timeout, architecture, reserved concurrency =
`max_concurrency` (the hard cap the coordinator can never exceed), JSON logs into a log group with
retention, and `RecursiveLoop: Allow` for components on a routing cycle (cfn/recursion.py; the
envelope's `max_hops` guards those loops instead). The queues are found by exact name, so this
stack only depends on the queues stack for ordering, not through exports. What each function
gets, asynchronous failure handling included, is decided in `function_specs`.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Output, Template

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import function_specs
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.cfn.lambdas import add_function


def render(app: App, images: Images) -> dict[str, Any]:
    template = Template(Description=f"lambda-complex {app.name} {app.version}: functions")
    for spec in function_specs.component_specs(app, images):
        function = add_function(template, app, spec)
        template.add_output(Output(f"{naming.logical_id(spec.key)}FunctionArn",
                                   Value=GetAtt(function, "Arn")))
    rendered: dict[str, Any] = template.to_dict()
    return rendered
