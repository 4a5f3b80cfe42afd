"""Every AWS resource name the application derives, checked for collisions before a deploy
fails on one (`x-dlq` beside `x`: both want the queue `<app>-x-dlq`).

Names come from `lambda_complex.runtime.names`; this module only decides which names share a
namespace and how AWS compares them:
- SQS queue names are case-sensitive
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html);
- Lambda function names are compared exactly (one name per function in the account and Region);
- IAM role names are unique ignoring case: "you cannot create resources named both
  'MyResource' and 'myresource'"
  (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App
from lambda_complex.runtime import names


@dataclass(frozen=True)
class Derived:
    name: str
    what: str  # e.g. "the dead-letter queue of 'x'"
    owner: int | None  # index of the component it belongs to; None: the framework's own


@dataclass(frozen=True)
class Collision:
    first: Derived
    second: Derived
    kind: str  # "queue", "function", "IAM role"


def _exact(name: str) -> str:
    return name


def _ignoring_case(name: str) -> str:
    return name.lower()


# Namespace -> how AWS compares names in it.
_KEY: dict[str, Callable[[str], str]] = {
    "queue": _exact, "function": _exact, "IAM role": _ignoring_case,
}


def derived_names(app: App) -> Iterator[tuple[str, Derived]]:
    """(namespace, name) of every queue, function and role the application's stacks create."""
    a = app.name
    for framework in (names.COORDINATOR, names.INVOKER):
        yield "function", Derived(names.function_name(a, framework), f"the {framework}", None)
        yield "IAM role", Derived(naming.role_name(a, framework), f"the {framework}'s role", None)
    for index, c in enumerate(app.components):
        n = c.name
        yield "function", Derived(names.function_name(a, n), f"the function of '{n}'", index)
        yield "IAM role", Derived(naming.role_name(a, n), f"the role of '{n}'", index)
        yield "queue", Derived(names.dead_letter_queue_name(a, n),
                               f"the dead-letter queue of '{n}'", index)
        if c.has_queue:
            yield "queue", Derived(names.queue_name(a, n), f"the input queue of '{n}'", index)
            yield "queue", Derived(names.inflight_queue_name(a, n),
                                   f"the lease queue of '{n}'", index)


def collisions(app: App) -> list[Collision]:
    """Pairs of derived names AWS would take for one resource, the later one second."""
    seen: dict[tuple[str, str], Derived] = {}
    found: list[Collision] = []
    for kind, derived in derived_names(app):
        key = (kind, _KEY[kind](derived.name))
        first = seen.get(key)
        if first is None:
            seen[key] = derived
        elif first.owner is None or first.owner != derived.owner:
            found.append(Collision(first, derived, kind))
    return found
