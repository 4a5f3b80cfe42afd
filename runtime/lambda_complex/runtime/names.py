"""The AWS names the runtime derives itself (its queues, functions and parameters), from the
application and component names: the contract between the builder, which creates these
resources, and the runtime, which finds them without a resource map. Names only the builder uses
(roles, stacks, repositories, logical IDs) are `lambda_complex.builder.app.naming`'s.
Names are exact: IAM policies list these names, never a prefix wildcard.
"""

from __future__ import annotations

COORDINATOR = "coordinator"
INVOKER = "invoker"
RESERVED_COMPONENT_NAMES = frozenset({COORDINATOR, INVOKER})

# AWS limits on the names derived below.
QUEUE_NAME_MAX = 80
FUNCTION_NAME_MAX = 64

_DLQ_SUFFIX = "-dlq"
_INFLIGHT_SUFFIX = "-inflight"
# The longest queue suffix decides whether a component name fits SQS's limit.
LONGEST_QUEUE_SUFFIX = max(len(_DLQ_SUFFIX), len(_INFLIGHT_SUFFIX))


def function_name(app: str, component: str) -> str:
    """Lambda function of a component (also `coordinator` and `invoker`)."""
    return f"{app}-{component}"


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
