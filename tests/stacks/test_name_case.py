"""IAM role names are unique ignoring case: a case-only component rename keeps its role."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lambda_complex.builder.app import load, naming
from lambda_complex.builder.cfn import functions
from tests.app.conftest import valid, write_app_tree
from tests.stacks.conftest import fake_images


def _roles_and_functions(tmp_path: Path, bill: str) -> tuple[dict[str, str], dict[str, str]]:
    data = valid()
    for component in data["components"]:
        if component["name"] == "bill":
            component["name"] = bill
        routing = component.get("routing")
        if routing == "bill":
            component["routing"] = bill
        elif isinstance(routing, list):
            component["routing"] = [bill if r == "bill" else r for r in routing]
        elif isinstance(routing, dict):
            routing["targets"] = [bill if r == "bill" else r for r in routing["targets"]]
    folder = tmp_path / bill
    write_app_tree(folder)
    path = folder / "lambda-complex.yaml"
    path.write_text(yaml.safe_dump(data))
    app = load.load(path)
    template: dict[str, Any] = functions.render(app, fake_images(app))

    def by_type(kind: str, prop: str) -> dict[str, str]:
        return {r["Properties"][prop]: logical_id for logical_id, r in template["Resources"].items()
                if r["Type"] == kind}
    return by_type("AWS::IAM::Role", "RoleName"), by_type("AWS::Lambda::Function", "FunctionName")


def test_case_only_rename_keeps_the_role_and_replaces_the_function(tmp_path: Path) -> None:
    roles_before, functions_before = _roles_and_functions(tmp_path, "bill")
    roles_after, functions_after = _roles_and_functions(tmp_path, "Bill")
    assert roles_after == roles_before  # same name, same logical ID: updated in place
    assert "shop-bill" in roles_after
    # functions keep their case (Lambda and SQS names are case-sensitive): a new function
    assert "shop-Bill" in functions_after and "shop-bill" in functions_before
    assert functions_after["shop-Bill"] != functions_before["shop-bill"]


def test_role_names_are_lowercase() -> None:
    assert naming.role_name("shop", "RenderPage") == "shop-renderpage"
