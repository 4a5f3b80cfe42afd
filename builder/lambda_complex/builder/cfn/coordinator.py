"""The coordinator stack: coordinator and invoker functions (one image, two commands), the
schedule that restarts dead coordinator chains every minute, and the control parameter
(`running` / `paused`) that `lcbuild pause` / `resume` and the switchover hook flip.

Asynchronous invocations of the coordinator and invoker are never retried by Lambda: a
generation retried a minute later would only compete with the one the schedule starts by then
(chains.replaced_within_s), and a retried fan-out would duplicate the invocations that did
succeed.
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
from lambda_complex.builder.cfn import iam
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.cfn.lambdas import FunctionSpec, add_function
from lambda_complex.runtime import control, names

INVOKER_COMMAND = ("lambda_complex.runtime.invoker.handler",)
INVOKER_TIMEOUT = 120
SCHEDULE = "rate(1 minute)"
SCHEDULE_INPUT = {"source": "schedule"}


def coordinator_spec(app: App, image_uri: str) -> FunctionSpec:
    return FunctionSpec(
        key=names.COORDINATOR,
        function_name=names.function_name(app.name, names.COORDINATOR),
        role_name=naming.role_name(app.name, names.COORDINATOR),
        image_uri=image_uri,
        memory=app.coordinator.memory,
        timeout=app.coordinator.timeout,
        architecture="x86_64",
        policy=iam.coordinator_policy(app),
        retry_attempts=0,
        recursive_loop_allowed=True,  # recursion.recursive_functions: the chain invokes itself
    )


def invoker_spec(app: App, image_uri: str) -> FunctionSpec:
    return FunctionSpec(
        key=names.INVOKER,
        function_name=names.function_name(app.name, names.INVOKER),
        role_name=naming.role_name(app.name, names.INVOKER),
        image_uri=image_uri,
        memory=app.coordinator.memory,
        timeout=INVOKER_TIMEOUT,
        architecture="x86_64",
        policy=iam.invoker_policy(app),
        command=INVOKER_COMMAND,
        retry_attempts=0,
        recursive_loop_allowed=True,  # recursion.recursive_functions: it fans out to invokers
    )


def render(app: App, images: Images) -> dict[str, Any]:
    template = Template(Description=f"lambda-complex {app.name} {app.version}: coordinator")
    coordinator = add_function(template, app, coordinator_spec(app, images.coordinator))
    invoker = add_function(template, app, invoker_spec(app, images.coordinator))
    rule = template.add_resource(Rule(
        "CoordinatorSchedule",
        Name=naming.schedule_rule_name(app.name),
        Description=f"restarts dead coordinator chains of {app.name}",
        ScheduleExpression=SCHEDULE,
        State="ENABLED",
        Targets=[Target(Id="coordinator", Arn=GetAtt(coordinator, "Arn"),
                        Input=json.dumps(SCHEDULE_INPUT))],
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
