"""AWS names only the builder derives (the runtime never looks them up): IAM roles, stacks,
ECR repositories, the schedule rule, CloudFormation logical IDs. Names the runtime derives too
are `lambda_complex.runtime.names`'s.
"""

from __future__ import annotations

import re

ROLE_NAME_MAX = 64


def role_name(app: str, component: str) -> str:
    """IAM role of a component's function: one per component, least privilege.

    Lowercase: IAM names are unique ignoring case ("you cannot create resources named both
    MyResource and myresource", https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html),
    so a case-only rename of a component keeps its role instead of colliding with it. Function and
    queue names keep their case: SQS names are case-sensitive
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html)."""
    return f"{app}-{component}".lower()


def ecr_repository_name(app: str, component: str) -> str:
    """ECR repositories are lowercase only; validation rejects names that collide this way."""
    return f"{app}/{component.lower()}"


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
