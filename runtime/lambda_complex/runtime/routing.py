"""Routing decisions, pure: where a handler's result goes.

Fixed routing sends a non-None result to each target and nothing on error (the input is retried).
A routing function `module:function` is called as fn(error, result) for every handler call, also
when the handler raised: returning targets then diverts the failure (e.g. to an error component)
and the input counts as done; returning [] leaves the input for redelivery.
Returning None from a handler ends the chain under fixed routing (a filter step).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from . import names
from .config import ComponentConfig
from .protocol import PermanentError

RoutingFunction = Callable[[BaseException | None, Any], Any]


class RoutingError(PermanentError):
    """A routing decision that can never be delivered (unknown target, malformed output)."""


class Target(NamedTuple):
    name: str
    data: Any


def load_function(spec: str) -> RoutingFunction:
    """Import `module:function` from the component's code (on sys.path via LAMBDA_TASK_ROOT)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise RoutingError(f"routing function {spec!r} is not 'module:function'")
    fn = getattr(importlib.import_module(module_name), attr)
    if not callable(fn):
        raise RoutingError(f"routing function {spec!r} is not callable")
    result: RoutingFunction = fn
    return result


def _check_target(name: Any, known: Mapping[str, ComponentConfig]) -> str:
    if not isinstance(name, str):
        raise RoutingError(f"routing target name must be a string, not {type(name).__name__}")
    if name in names.RESERVED_COMPONENT_NAMES or name not in known:
        raise RoutingError(f"routing target {name!r} is not a component of this application")
    return name


def validate(output: Any, known: Mapping[str, ComponentConfig]) -> list[Target]:
    """A routing function's output -> targets; RoutingError describes what is wrong."""
    if output is None:
        return []
    if not isinstance(output, list | tuple):
        kind = type(output).__name__
        raise RoutingError(f"routing function must return a list of {{'name', 'data'}}, not {kind}")
    targets = []
    for i, item in enumerate(output):
        if not isinstance(item, dict) or "name" not in item or "data" not in item:
            raise RoutingError(f"routing function result [{i}] is not {{'name': ..., 'data': ...}}")
        extra = sorted(set(item) - {"name", "data"})
        if extra:
            raise RoutingError(f"routing function result [{i}] has unknown keys {extra}")
        targets.append(Target(_check_target(item["name"], known), item["data"]))
    return targets


def decide(
    own: ComponentConfig,
    known: Mapping[str, ComponentConfig],
    error: BaseException | None,
    result: Any,
    function: RoutingFunction | None = None,
) -> list[Target]:
    """Targets for one handler call. `function` is the loaded routing function, if any."""
    if own.routing.function is not None:
        if function is None:
            raise RoutingError(f"routing function {own.routing.function!r} was not loaded")
        if own.routing.components:  # declared targets: the only ones IAM allows
            known = {n: c for n, c in known.items() if n in own.routing.components}
        return validate(function(error, result), known)
    if error is not None or result is None:
        return []
    return [Target(_check_target(name, known), result) for name in own.routing.components]
