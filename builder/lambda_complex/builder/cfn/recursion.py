"""Which functions take part in a Lambda -> SQS/Lambda -> Lambda loop on purpose.

Lambda's recursive loop detection stops a request chain after about 16 invocations through the
same function unless the function's `RecursiveLoop` is `Allow`
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html). The coordinator re-invokes
itself in chains and drives the invoker, which invokes components, so both always loop; a
component loops when routing can bring its own results back to it, directly or through others.
"""

from __future__ import annotations

from lambda_complex.builder.app.graph import edges
from lambda_complex.builder.app.model import App
from lambda_complex.runtime.names import COORDINATOR, INVOKER, function_name


def cyclic_components(app: App) -> frozenset[str]:
    """Components on a routing cycle (a self-loop included): those that can reach themselves."""
    successors: dict[str, set[str]] = {name: set() for name in app.component_names}
    for source, target, _label in edges(app):
        successors.setdefault(source, set()).add(target)
    on_cycle: set[str] = set()
    for start in successors:
        seen: set[str] = set()
        pending = list(successors[start])
        while pending:
            node = pending.pop()
            if node == start:
                on_cycle.add(start)
                break
            if node in seen:
                continue
            seen.add(node)
            pending.extend(successors.get(node, ()))
    return frozenset(on_cycle)


def recursive_functions(app: App) -> frozenset[str]:
    """Function names that must get `RecursiveLoop: Allow`: coordinator, invoker, cycles."""
    names = {COORDINATOR, INVOKER, *cyclic_components(app)}
    return frozenset(function_name(app.name, name) for name in names)
