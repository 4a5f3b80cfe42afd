"""`dispatch: native`: what an SQS event source mapping can hold is refused otherwise, with one
sentence naming the component and the field; `batching_window` belongs to native only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_complex.builder.app import load
from lambda_complex.builder.errors import DefinitionError
from lambda_complex.runtime import config

from .conftest import valid


def _errors(write_definition: Callable[[Any], Path], data: dict[str, Any]) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load.load(write_definition(data))
    return [str(e) for e in caught.value.errors]


def test_native_with_a_batching_window_loads(write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["components"][0].update(dispatch="native", batching_window=300)
    app = load.load(write_definition(data))
    orders, bill = app.component("orders"), app.component("bill")
    assert orders.native and not orders.has_lease_queue
    assert (orders.dispatch, orders.batching_window, orders.max_concurrency) == (
        config.NATIVE, 300, 2)
    assert not bill.native and bill.has_lease_queue and bill.batching_window == 0
    assert not app.component("notify").has_lease_queue  # an invocation component has no queue


def test_native_needs_a_limit_of_at_least_two(write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["components"][1]["dispatch"] = "native"  # bill: max_concurrency 1 (the default)
    assert _errors(write_definition, data) == [
        "components[1].max_concurrency: component 'bill': dispatch: native cannot hold "
        "max_concurrency 1, since its event source mapping's ScalingConfig.MaximumConcurrency "
        "is 2..1000; a limit of 1 needs dispatch: push or coordinator"
    ]


@pytest.mark.parametrize("dispatch", [None, config.PUSH, config.COORDINATOR])
def test_batching_window_only_with_native(write_definition: Callable[[Any], Path],
                                          dispatch: str | None) -> None:
    data = valid()
    data["components"][0]["batching_window"] = 0
    if dispatch is not None:
        data["components"][0]["dispatch"] = dispatch
    shown = dispatch or config.PUSH
    assert _errors(write_definition, data) == [
        "components[0].batching_window: component 'orders': applies only to dispatch: native "
        f"(the event source mapping's batching window); this component's dispatch is {shown}"
    ]


def test_batching_window_range_and_invocation_components(
        write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["components"][0].update(dispatch="native", batching_window=301)
    data["components"][2].update(batching_window=1)
    assert _errors(write_definition, data) == [
        "components[0].batching_window: 301 is out of range: must be between 0 and 300",
        "components[2].batching_window: applies only to event_from_message components "
        "(this one is event_from_invocation)",
    ]


def test_native_visibility_timeout_is_held_to_the_function_timeout(
        write_definition: Callable[[Any], Path]) -> None:
    """AWS refuses a mapping on a queue whose visibility timeout is below the function's."""
    data = valid()
    data["components"][0].update(dispatch="native", visibility_timeout=59)
    assert _errors(write_definition, data) == [
        "components[0].visibility_timeout: 59 s is shorter than lambda.timeout (60 s): a "
        "message would be redelivered while the invocation that took it may still be running"
    ]
