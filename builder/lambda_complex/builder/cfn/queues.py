"""The queues stack: long-lived, changed only when a queue's name changes or a component goes.

Per `event_from_message` component: its input queue (visibility timeout from the definition,
derived from the function timeout; long-poll wait; redrive to its dead-letter queue after
`max_receive_count`) and, unless it is native (its event source mapping caps its concurrency),
its lease queue (in-flight accounting). Per component of either type: a dead-letter queue
(redrive target, and on-failure destination of asynchronous invocations).

Queues that are deployed but no longer asked for ("retiring": a renamed or removed component)
are carried over verbatim until the switchover hook has moved their messages and removes them,
so CloudFormation never deletes a queue that still holds messages. Dead-letter queues are
retained on stack deletion; the delete hook removes the empty ones.
"""

from __future__ import annotations

import json
from typing import Any

from troposphere import GetAtt, Output, Ref, Template
from troposphere.sqs import Queue, RedrivePolicy

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common
from lambda_complex.builder.cfn.common import DLQ, INFLIGHT, INPUT, QueueSpec
from lambda_complex.runtime.delivery import SQS_MAX_BODY
from lambda_complex.runtime.inflight import LEASE_MARGIN_S


def output_id(spec: QueueSpec, what: str) -> str:
    return naming.logical_id(spec.component, spec.kind, "Queue", what)


def _queue(app: App, spec: QueueSpec, dlq: Queue | None) -> Queue:
    component = app.component(spec.component)
    # Explicit: delivery sends bodies up to SQS_MAX_BODY (1 MiB, the largest MaximumMessageSize
    # SQS accepts: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html),
    # while queues made when the limit was 256 KiB, or by tools that default to it, keep less.
    props: dict[str, Any] = {"QueueName": spec.name, "MaximumMessageSize": SQS_MAX_BODY,
                             "Tags": common.tags(app)}
    if spec.kind == INPUT:
        assert dlq is not None
        props.update(
            VisibilityTimeout=component.visibility_timeout,
            ReceiveMessageWaitTimeSeconds=component.queue_wait_time,
            RedrivePolicy=RedrivePolicy(deadLetterTargetArn=GetAtt(dlq, "Arn"),
                                        maxReceiveCount=component.max_receive_count),
        )
    elif spec.kind == INFLIGHT:
        props.update(VisibilityTimeout=component.lambda_.timeout + LEASE_MARGIN_S)
    else:
        props.update(MessageRetentionPeriod=common.DLQ_RETENTION_S)
    queue = Queue(spec.logical_id, Metadata=spec.metadata(), **props)
    if spec.kind == DLQ:
        # Dead letters outlive the stack: the delete hook removes only the empty ones.
        queue.DeletionPolicy = "Retain"
        queue.UpdateReplacePolicy = "Retain"
    return queue


def desired_queues(app: App) -> list[QueueSpec]:
    return common.queue_specs(app)


def deployed_queue_resources(template: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The queue resources of a deployed queues-stack template, by logical ID."""
    if not template:
        return {}
    resources = template.get("Resources", {})
    return {
        logical_id: resource for logical_id, resource in resources.items()
        if resource.get("Type") == "AWS::SQS::Queue"
        and common.METADATA_KEY in (resource.get("Metadata") or {})
    }


def retiring_resources(app: App, deployed: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    wanted = {spec.logical_id for spec in desired_queues(app)}
    return {k: v for k, v in deployed_queue_resources(deployed).items() if k not in wanted}


def render(app: App, deployed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The queues template; `deployed` is the template now deployed (None: first deploy)."""
    template = Template(Description=f"lambda-complex {app.name} {app.version}: queues")
    for component in app.components:
        specs = {spec.kind: spec for spec in common.component_queues(app, component)}
        dlq = template.add_resource(_queue(app, specs[DLQ], None))
        queues = [(dlq, specs[DLQ])]
        if INPUT in specs:
            queues.append((template.add_resource(_queue(app, specs[INPUT], dlq)), specs[INPUT]))
        if INFLIGHT in specs:
            queues.append((template.add_resource(_queue(app, specs[INFLIGHT], None)),
                           specs[INFLIGHT]))
        for queue, spec in queues:
            template.add_output(Output(output_id(spec, "Url"), Value=Ref(queue)))
            template.add_output(Output(output_id(spec, "Arn"), Value=GetAtt(queue, "Arn")))
    rendered: dict[str, Any] = template.to_dict()
    retiring = retiring_resources(app, deployed)
    if retiring:
        # Verbatim (a JSON round trip drops any parser-specific types): unchanged to CloudFormation.
        rendered["Resources"].update(json.loads(json.dumps(retiring)))
    return rendered
