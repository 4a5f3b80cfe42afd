"""What every stack template shares: stack names, tags, exact ARNs, queue identities.

ARNs of our own resources are built from the exact names in `runtime.names` with `Fn::Sub`
(partition, region and account from the stack): never a name-prefix wildcard, and no
cross-stack exports (an imported export cannot change, which would pin queues forever).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from troposphere import Sub, Tags

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App, Component
from lambda_complex.runtime import names

QUEUES = "queues"
FUNCTIONS = "functions"
COORDINATOR = "coordinator"
STACKS = (QUEUES, FUNCTIONS, COORDINATOR)

# Metadata key on every queue resource: which component and kind of queue it is.
METADATA_KEY = "LambdaComplex"
INPUT = "input"
DLQ = "dlq"
INFLIGHT = "inflight"
QUEUE_KINDS = (INPUT, DLQ, INFLIGHT)

APP_TAG = "lambda-complex:app"
LOG_RETENTION_DAYS = 30
DLQ_RETENTION_S = 1_209_600  # 14 days, SQS's maximum: dead letters wait for a human
ASYNC_RETRY_ATTEMPTS = 2


def stack_name(app: App, stack: str) -> str:
    return naming.stack_name(app.name, stack)


def tag_dict(app: App) -> dict[str, str]:
    """deployment.tags plus the application tag, for every stack and taggable resource."""
    return {**app.deployment.tags, APP_TAG: app.name}


def tags(app: App) -> Tags:
    return Tags(**tag_dict(app))


def arn(service: str, resource: str) -> Sub:
    """`arn:<partition>:<service>:<region>:<account>:<resource>` for this stack's account."""
    return Sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}")


def queue_arn(name: str) -> Sub:
    return arn("sqs", name)


def function_arn(name: str) -> Sub:
    return arn("lambda", f"function:{name}")


def log_group_name(function: str) -> str:
    return f"/aws/lambda/{function}"


def log_group_arn(function: str) -> Sub:
    """The function's own log group and its streams (CloudWatch Logs wants both forms)."""
    return arn("logs", f"log-group:{log_group_name(function)}:*")


def parameter_arn(app: App) -> Sub:
    """Every parameter under the app's prefix (`/lambda-complex/<app>/`, trailing slash kept, so
    another app whose name starts the same never matches). The ARN drops the leading slash."""
    return arn("ssm", f"parameter{names.parameter_prefix(app.name)}*")


def name_digest(name: str) -> str:
    """8 hex digits of an exact (case-sensitive) resource name, for logical IDs."""
    return hashlib.sha256(name.encode()).hexdigest()[:8].upper()


def resource_id(stem: str, kind: str, name: str) -> str:
    """Logical ID that changes whenever the physical name does: a renamed resource is a new
    resource for CloudFormation (created, then the old one removed) rather than an in-place
    replacement, whatever the case of the name (`render` and `Render` give the same stem)."""
    return f"{naming.logical_id(stem)}{kind}{name_digest(name)}"


@dataclass(frozen=True)
class QueueSpec:
    """One queue the definition asks for."""

    component: str
    kind: str  # input | dlq | inflight
    name: str
    earlier: tuple[str, ...] = ()  # the component's renamed_from names

    @property
    def identity(self) -> str:
        """What survives a rename CloudFormation would treat as a replacement: the component's
        logical ID and the kind. A queue with the same identity but another name succeeds it."""
        return queue_identity(self.component, self.kind)

    @property
    def succeeds(self) -> tuple[str, ...]:
        """Identities of the deployed queues this one takes over: its own, and those of the
        component's earlier names (a rename the definition declares with renamed_from)."""
        return (self.identity, *(queue_identity(old, self.kind) for old in self.earlier))

    @property
    def logical_id(self) -> str:
        """Includes a digest of the exact name, so a changed name is a new resource (created
        before the old one is drained and removed by the switchover), never an in-place replace."""
        return resource_id(self.component, f"{self.kind.capitalize()}Queue", self.name)

    def metadata(self) -> dict[str, Any]:
        return {METADATA_KEY: {"component": self.component, "kind": self.kind,
                               "identity": self.identity, "name": self.name}}


def queue_identity(component: str, kind: str) -> str:
    return f"{naming.logical_id(component)}:{kind}"


def component_queues(app: App, component: Component) -> list[QueueSpec]:
    a, c, earlier = app.name, component.name, component.renamed_from
    specs = [QueueSpec(c, DLQ, names.dead_letter_queue_name(a, c), earlier)]
    if component.has_queue:
        specs.append(QueueSpec(c, INPUT, names.queue_name(a, c), earlier))
    if component.has_lease_queue:  # a native component's mapping keeps its own count
        specs.append(QueueSpec(c, INFLIGHT, names.inflight_queue_name(a, c), earlier))
    return specs


def queue_specs(app: App) -> list[QueueSpec]:
    return [spec for component in app.components for spec in component_queues(app, component)]

