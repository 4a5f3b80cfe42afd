"""The coordinator stack: coordinator and invoker functions (one image, two commands), the
schedule that restarts dead coordinator chains every minute, and the control parameter
(`running` / `paused`) that `lcbuild pause` / `resume` and the switchover hook flip. The two
functions' settings are decided in `function_specs`.
"""

from __future__ import annotations

import json
from typing import Any

from troposphere import GetAtt, Output, Ref, Template
from troposphere.awslambda import Permission
from troposphere.events import Rule, Target
from troposphere.ssm import Parameter

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import function_specs
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.cfn.lambdas import add_function
from lambda_complex.runtime import control, names, protocol

SCHEDULE = "rate(1 minute)"


def render(app: App, images: Images) -> dict[str, Any]:
    template = Template(Description=f"lambda-complex {app.name} {app.version}: coordinator")
    coordinator_fn, invoker_fn = function_specs.coordinator_specs(app, images)
    coordinator = add_function(template, app, coordinator_fn)
    invoker = add_function(template, app, invoker_fn)
    rule = template.add_resource(Rule(
        "CoordinatorSchedule",
        Name=naming.schedule_rule_name(app.name),
        Description=f"restarts dead coordinator chains of {app.name}",
        ScheduleExpression=SCHEDULE,
        State="ENABLED",
        Targets=[Target(Id="coordinator", Arn=GetAtt(coordinator, "Arn"),
                        Input=json.dumps(protocol.SCHEDULE_INPUT))],
    ))
    template.add_resource(Permission(
        "CoordinatorSchedulePermission",
        FunctionName=Ref(coordinator),
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=GetAtt(rule, "Arn"),
    ))
    switch = template.add_resource(Parameter(
        "ControlParameter",
        Name=names.control_parameter_name(app.name),
        Type="String",
        Value=control.RUNNING,
        Description=f"running or paused: whether {app.name}'s coordinator dispatches",
        # No Tags here: the stack tags (config/config.yaml, checked to include deployment.tags)
        # propagate to it, and moto's CloudFormation crashes on this property's map form.
    ))
    template.add_output(Output("CoordinatorFunctionArn", Value=GetAtt(coordinator, "Arn")))
    template.add_output(Output("InvokerFunctionArn", Value=GetAtt(invoker, "Arn")))
    template.add_output(Output("ControlParameterName", Value=Ref(switch)))
    rendered: dict[str, Any] = template.to_dict()
    return rendered
