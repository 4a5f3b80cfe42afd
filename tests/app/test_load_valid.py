from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lambda_complex.builder.app import compile as app_compile
from lambda_complex.builder.app import graph, load
from lambda_complex.builder.app.model import Architecture, ComponentType
from lambda_complex.runtime.config import RuntimeConfig

from .conftest import valid

ROOT = Path(__file__).resolve().parents[2]


def test_valid_definition_loads_with_defaults(write_definition: Callable[[Any], Path]) -> None:
    app = load.load(write_definition(valid()))
    assert app.name == "shop"
    orders = app.component("orders")
    assert orders.type is ComponentType.EVENT_FROM_MESSAGE
    assert orders.routing.components == ("bill", "notify")
    assert orders.lambda_.memory == 256 and orders.lambda_.timeout == 60
    assert orders.visibility_timeout == 90  # timeout + 30 s
    assert orders.lambda_.architecture is Architecture.X86_64
    assert orders.lambda_.path == (app.root / "orders").resolve()
    notify = app.component("notify")
    assert notify.routing.function == "route:pick"
    assert notify.routing.possible_targets(app.component_names) == ("bill",)
    assert app.coordinator.concurrency == 2 and app.coordinator.max_invocations == 20


def test_example_application_is_valid() -> None:
    app = load.load(ROOT / "lambda-complex.yaml")
    types = {c.type for c in app.components}
    assert types == set(ComponentType)
    forms = {("function" if c.routing.function else "list" if len(c.routing.components) > 1
              else "name" if c.routing.components else "none") for c in app.components}
    assert {"function", "list", "name"} <= forms
    assert any(c.max_concurrency == 1 for c in app.components)


def test_compiled_config_round_trips_and_holds_only_what_the_image_needs(
    write_definition: Callable[[Any], Path],
) -> None:
    app = load.load(write_definition(valid()))
    compiled = app_compile.for_component(app, "bill")
    assert set(compiled.components) == {"bill", "notify"}
    again = RuntimeConfig.from_dict(__import__("json").loads(compiled.to_json()))
    assert again == compiled
    coordinator = app_compile.for_coordinator(app)
    assert set(coordinator.components) == {"orders", "bill", "notify"}
    notify = app_compile.for_component(app, "notify").own
    assert notify.routing.function == "route:pick" and notify.routing.components == ("bill",)


def test_graph_formats(write_definition: Callable[[Any], Path]) -> None:
    app = load.load(write_definition(valid()))
    mermaid = graph.render(app, "mermaid")
    assert mermaid.startswith("flowchart LR")
    assert "n_orders --> n_bill" in mermaid and "n_notify -. route:pick .-> n_bill" in mermaid
    dot = graph.render(app, "dot")
    assert '"orders" -> "notify";' in dot
    assert "orders [queue, max 2] -> bill, notify" in graph.render(app, "text")


def test_api_validate_lists_problems(write_definition: Callable[[Any], Path]) -> None:
    from lambda_complex.builder import api

    data = valid()
    assert api.validate(write_definition(data)) == []
    data["components"][0]["batch_size"] = 0
    problems = api.validate(write_definition(data))
    assert [p.path for p in problems] == ["components[0].batch_size"]
