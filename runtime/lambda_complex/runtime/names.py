"""AWS resource names derived from the application and component names.

One place decides every name, so the builder (stacks, validation of length limits) and the runtime
(finding queues and functions without a resource map download) can never disagree.
Names are exact: IAM policies list these names, never a prefix wildcard.
"""

from __future__ import annotations

import re

COORDINATOR = "coordinator"
INVOKER = "invoker"
RESERVED_COMPONENT_NAMES = frozenset({COORDINATOR, INVOKER})

# AWS limits on the names derived below.
QUEUE_NAME_MAX = 80
FUNCTION_NAME_MAX = 64
ROLE_NAME_MAX = 64

_DLQ_SUFFIX = "-dlq"
_INFLIGHT_SUFFIX = "-inflight"
# The longest queue suffix decides whether a component name fits SQS's limit.
LONGEST_QUEUE_SUFFIX = max(len(_DLQ_SUFFIX), len(_INFLIGHT_SUFFIX))


def function_name(app: str, component: str) -> str:
    """Lambda function of a component (also `coordinator` and `invoker`)."""
    return f"{app}-{component}"


def role_name(app: str, component: str) -> str:
    """IAM role of a component's function: one per component, least privilege.

    Lowercase: IAM names are unique ignoring case ("you cannot create resources named both
    MyResource and myresource", https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html),
    so a case-only rename of a component keeps its role instead of colliding with it. Function and
    queue names keep their case: SQS names are case-sensitive
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html)."""
    return f"{app}-{component}".lower()


def queue_name(app: str, component: str) -> str:
    """Input queue of an `event_from_message` component."""
    return f"{app}-{component}"


def dead_letter_queue_name(app: str, component: str) -> str:
    """Dead-letter queue of a component: redrive target for message components, on-failure
    destination of asynchronous invocations for every component."""
    return f"{app}-{component}{_DLQ_SUFFIX}"


def inflight_queue_name(app: str, component: str) -> str:
    """Lease queue counting the running invocations of an `event_from_message` component."""
    return f"{app}-{component}{_INFLIGHT_SUFFIX}"


def ecr_repository_name(app: str, component: str) -> str:
    """ECR repositories are lowercase only; validation rejects names that collide this way."""
    return f"{app}/{component.lower()}"


def parameter_prefix(app: str) -> str:
    """SSM parameter path of the application's control state (pause switch, chain heartbeats).

    The trailing slash matters: `/lambda-complex/site/*` must not match app `site-gen`."""
    return f"/lambda-complex/{app}/"


def control_parameter_name(app: str) -> str:
    """`running` or `paused`: the coordinator dispatches only while it reads `running`."""
    return parameter_prefix(app) + "control"


def chain_parameter_name(app: str, chain: int) -> str:
    """Heartbeat of coordinator chain `chain` (0-based)."""
    return parameter_prefix(app) + f"chains/{chain}"


def schedule_rule_name(app: str) -> str:
    """EventBridge rule that restarts dead coordinator chains every minute."""
    return f"{app}-coordinator-schedule"


def stack_name(app: str, stack: str) -> str:
    return f"{app}-{stack}"


_LOGICAL_ID_SPLIT = re.compile(r"[^A-Za-z0-9]+")


def logical_id(*parts: str) -> str:
    """CloudFormation logical ID (alphanumeric only) for a resource of the given name parts."""
    words: list[str] = []
    for part in parts:
        words.extend(w for w in _LOGICAL_ID_SPLIT.split(part) if w)
    return "".join(w[:1].upper() + w[1:] for w in words)


def collision_key(name: str) -> str:
    """Two names with the same key would produce the same logical ID or ECR repository."""
    return _LOGICAL_ID_SPLIT.sub("", name).lower()
