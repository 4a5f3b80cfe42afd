"""`validate` finds handler, routing and switchover functions in their modules by parsing the
code (never importing it), and names the field when one is missing."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_complex.builder.app import load, symbols
from lambda_complex.builder.errors import DefinitionError

from .conftest import valid


def _errors(write_definition: Callable[[Any], Path], data: dict[str, Any]) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load.load(write_definition(data))
    return [str(e) for e in caught.value.errors]


def test_misspelt_handler_function_is_named_with_a_suggestion(
    write_definition: Callable[[Any], Path],
) -> None:
    data = valid()
    data["components"][0]["lambda"]["handler"] = "orders.hander"
    assert _errors(write_definition, data) == [
        "components[0].lambda.handler: function 'hander' not found in orders.py "
        "(did you mean 'handler'?)"
    ]


def test_handler_in_a_package_module(write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["components"][2]["lambda"]["handler"] = "pkg.mod.nothing_like_it"
    assert _errors(write_definition, data) == [
        "components[2].lambda.handler: function 'nothing_like_it' not found in pkg/mod.py"
    ]


def test_routing_function_missing_string_and_mapping_forms(
    write_definition: Callable[[Any], Path],
) -> None:
    data = valid()
    data["components"][2]["routing"] = {"function": "route:pik", "targets": ["bill"]}
    assert _errors(write_definition, data) == [
        "components[2].routing.function: function 'pik' not found in route.py "
        "(did you mean 'pick'?)"
    ]
    data["components"][2]["routing"] = "route:pik"
    assert _errors(write_definition, data) == [
        "components[2].routing: function 'pik' not found in route.py (did you mean 'pick'?)"
    ]


def test_switchover_callable_is_checked_relative_to_the_project_root(
    write_definition: Callable[[Any], Path], app_dir: Path,
) -> None:
    (app_dir / "deploy_hooks.py").write_text("def switchover(plan):\n    return None\n")
    data = valid()
    data["deployment"]["switchover"] = "deploy_hooks:switchovr"
    assert _errors(write_definition, data) == [
        "deployment.switchover: function 'switchovr' not found in deploy_hooks.py "
        "(did you mean 'switchover'?)"
    ]
    data["deployment"]["switchover"] = "deploy_hookz:switchover"
    [message] = _errors(write_definition, data)
    assert message.startswith("deployment.switchover: module 'deploy_hookz' not found in ")
    data["deployment"]["switchover"] = "deploy_hooks:switchover"
    assert load.load(write_definition(data)).deployment.switchover == "deploy_hooks:switchover"
    # An installed module is importable too; the check cannot read it, so it is accepted.
    data["deployment"]["switchover"] = "json:dumps"
    assert load.load(write_definition(data)).deployment.switchover == "json:dumps"


def test_syntax_error_is_reported_with_its_line(
    write_definition: Callable[[Any], Path], app_dir: Path,
) -> None:
    (app_dir / "orders" / "orders.py").write_text("import json\n\ndef handler(event, context)\n")
    [message] = _errors(write_definition, valid())
    assert message.startswith("components[0].lambda.handler: cannot parse orders.py with Python ")
    assert message.endswith("(line 3)"), message


def test_handler_module_is_never_imported(
    write_definition: Callable[[Any], Path], app_dir: Path,
) -> None:
    """The host may lack the component's dependencies: an import that would fail is fine."""
    (app_dir / "orders" / "orders.py").write_text(
        "import numpy_is_not_installed_here\n"
        "raise SystemExit('imported!')\n"
        "def handler(event, context):\n    return event\n")
    assert load.load(write_definition(valid())).component("orders").lambda_.handler


BINDS = [
    ("def", "def handler(e, c): ...", True),
    ("async def", "async def handler(e, c): ...", True),
    ("class", "class handler: ...", True),
    ("assignment", "handler = make()", True),
    ("tuple assignment", "handler, other = make()", True),
    ("annotated assignment", "handler: Fn = make()", True),
    ("annotation only", "handler: Fn", False),
    ("import as", "from impl import real as handler", True),
    ("from import", "from impl import handler", True),
    ("import module", "import handler", True),
    ("dotted import binds the top name", "import handler.sub", True),
    ("try/except fallback",
     "try:\n    from fast import handler\nexcept ImportError:\n    handler = None", True),
    ("if block", "if True:\n    def handler(e, c): ...", True),
    ("with block", "with open('x') as handler: ...", True),
    ("walrus", "print(handler := 1)", True),
    ("star import: cannot tell", "from impl import *", True),
    ("module __getattr__: cannot tell", "def __getattr__(name): ...", True),
    ("only inside a function", "def outer():\n    handler = 1", False),
    ("only inside a class", "class K:\n    def handler(self): ...", False),
    ("only referenced", "print(handler)", False),
    ("other name", "def handle(e, c): ...", False),
]


@pytest.mark.parametrize(("case", "source", "defined"), BINDS, ids=[b[0] for b in BINDS])
def test_what_binds_a_top_level_name(case: str, source: str, defined: bool) -> None:
    found = symbols.top_level(ast.parse(source))
    assert (found.open_ended or "handler" in found.names) is defined
