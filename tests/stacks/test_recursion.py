"""Which functions must allow Lambda's recursive loops: coordinator, invoker, routing cycles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lambda_complex.builder.app import load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import coordinator, functions, lint, render
from lambda_complex.builder.cfn.recursion import cyclic_components, recursive_functions
from tests.app.conftest import valid, write_app_tree
from tests.stacks.conftest import fake_images


def _app(tmp_path: Path, routes: dict[str, Any]) -> App:
    data = valid()
    for component in data["components"]:
        if component["name"] in routes:
            component["routing"] = routes[component["name"]]
        else:
            component.pop("routing", None)
    write_app_tree(tmp_path)
    path = tmp_path / "lambda-complex.yaml"
    path.write_text(yaml.safe_dump(data))
    return load.load(path)


def test_acyclic_routing_leaves_only_coordinator_and_invoker(tmp_path: Path) -> None:
    app = _app(tmp_path, {"orders": ["bill", "notify"], "bill": "notify"})
    assert cyclic_components(app) == frozenset()
    assert recursive_functions(app) == {"shop-coordinator", "shop-invoker"}


def test_self_loop_and_longer_cycle_are_found(tmp_path: Path) -> None:
    app = _app(tmp_path, {"orders": ["orders"], "bill": "notify", "notify": ["bill"]})
    assert cyclic_components(app) == {"orders", "bill", "notify"}


def test_component_that_only_feeds_a_cycle_is_not_on_it(tmp_path: Path) -> None:
    app = _app(tmp_path, {"orders": ["bill"], "bill": "notify",
                          "notify": {"function": "route:pick", "targets": ["bill"]}})
    assert recursive_functions(app) == {"shop-coordinator", "shop-invoker",
                                        "shop-bill", "shop-notify"}


def test_example_app_has_no_routing_cycle(example_app: App) -> None:
    assert recursive_functions(example_app) == {"sitegen-coordinator", "sitegen-invoker"}


def test_rendered_functions_allow_recursion_only_on_cycles(tmp_path: Path) -> None:
    app = _app(tmp_path, {"orders": ["bill"], "bill": "notify",
                          "notify": {"function": "route:pick", "targets": ["bill"]}})
    images = fake_images(app)
    templates = [functions.render(app, images), coordinator.render(app, images)]
    loops = {r["Properties"]["FunctionName"]: r["Properties"]["RecursiveLoop"]
             for t in templates for r in t["Resources"].values()
             if r["Type"] == "AWS::Lambda::Function"}
    assert loops == {"shop-orders": "Terminate", "shop-bill": "Allow", "shop-notify": "Allow",
                     "shop-coordinator": "Allow", "shop-invoker": "Allow"}
    for template in templates:
        assert lint.findings(render.to_json(template), app.deployment.region) == []
