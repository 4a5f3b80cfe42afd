"""Building blocks shared by the functions and coordinator stacks: a function (from its
`FunctionSpec`) with its role, log group (retention, JSON logs), asynchronous-invocation
settings and, for a native component, its SQS event source mapping."""

from __future__ import annotations

from typing import Any, ClassVar

from troposphere import GetAtt, Ref, Template
from troposphere.awslambda import (
    Code,
    DestinationConfig,
    Environment,
    EventInvokeConfig,
    EventSourceMapping,
    Function,
    ImageConfig,
    LoggingConfig,
    OnFailure,
    ScalingConfig,
)
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, function_specs, iam
from lambda_complex.builder.cfn.function_specs import FunctionSpec


class JsonLoggingConfig(LoggingConfig):  # type: ignore[misc]
    """troposphere's LoggingConfig lacks `LogFormat` (part of CloudFormation's schema)."""

    props: ClassVar[dict[str, Any]] = {**LoggingConfig.props, "LogFormat": (str, False)}


class MappingScalingConfig(ScalingConfig):  # type: ignore[misc]
    """An event source mapping's ScalingConfig (troposphere's class of that name has another
    shape): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-eventsourcemapping-scalingconfig.html"""

    props: ClassVar[dict[str, Any]] = {"MaximumConcurrency": (int, False)}


def add_function(template: Template, app: App, spec: FunctionSpec) -> Function:
    def rid(kind: str, name: str = spec.function_name) -> str:
        return common.resource_id(spec.key, kind, name)

    tags = common.tags(app)
    log_group = template.add_resource(LogGroup(
        rid("LogGroup"),
        LogGroupName=common.log_group_name(spec.function_name),
        RetentionInDays=common.LOG_RETENTION_DAYS,
        Tags=tags,
    ))
    # Named after the (lowercase) role name: a case-only component rename keeps the same role.
    role = template.add_resource(Role(
        rid("Role", spec.role_name),
        RoleName=spec.role_name,
        AssumeRolePolicyDocument=iam.ASSUME_ROLE_POLICY,
        Policies=[Policy(PolicyName="least-privilege", PolicyDocument=spec.policy)],
        Tags=tags,
    ))
    props: dict[str, Any] = {
        "FunctionName": spec.function_name,
        "PackageType": "Image",
        "Code": Code(ImageUri=spec.image_uri),
        "Role": GetAtt(role, "Arn"),
        "MemorySize": spec.memory,
        "Timeout": spec.timeout,
        "Architectures": [spec.architecture],
        "LoggingConfig": JsonLoggingConfig(LogFormat=spec.log_format, LogGroup=Ref(log_group)),
        "RecursiveLoop": "Allow" if spec.recursive_loop_allowed else "Terminate",
        "Tags": tags,
    }
    if spec.reserved_concurrency is not None:
        props["ReservedConcurrentExecutions"] = spec.reserved_concurrency
    if spec.environment:
        props["Environment"] = Environment(Variables=dict(spec.environment))
    if spec.command:
        props["ImageConfig"] = ImageConfig(Command=list(spec.command))
    function = template.add_resource(Function(rid("Function"), **props))
    invoke_props: dict[str, Any] = {
        "FunctionName": Ref(function),
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": spec.retry_attempts,
    }
    if spec.on_failure_queue is not None:
        invoke_props["DestinationConfig"] = DestinationConfig(
            OnFailure=OnFailure(Destination=common.queue_arn(spec.on_failure_queue)))
    template.add_resource(EventInvokeConfig(rid("EventInvokeConfig"), **invoke_props))
    if spec.event_source is not None:
        add_event_source(template, app, spec, function)
    return function


def add_event_source(template: Template, app: App, spec: FunctionSpec,
                     function: Function) -> EventSourceMapping:
    """The SQS event source mapping of a native component. Its logical ID follows the queue's
    exact name, so a renamed queue gets a new mapping (AWS allows one per queue and function)."""
    source = spec.event_source
    assert source is not None
    return template.add_resource(EventSourceMapping(
        common.resource_id(spec.key, "EventSourceMapping", source.queue_name),
        EventSourceArn=common.queue_arn(source.queue_name),
        FunctionName=Ref(function),
        BatchSize=source.batch_size,
        MaximumBatchingWindowInSeconds=source.batching_window,
        FunctionResponseTypes=([function_specs.REPORT_BATCH_ITEM_FAILURES]
                               if source.report_batch_item_failures else []),
        ScalingConfig=MappingScalingConfig(MaximumConcurrency=source.max_concurrency),
        Enabled=source.enabled,
        Tags=common.tags(app),
    ))
