"""Every AWS call the runtime makes, found by reading its source (AST), and which Lambda function
can reach it (a reference graph from each function's handler).

A call is `resources.<client>().<operation>(...)`, a call on a name or expression holding such a
client (`client = ssm or resources.ssm()`), or `resources.queue_url(...)` (GetQueueUrl, made on
the caller's behalf). The reference graph over-approximates calls: a def that names another
(called, or passed on as a callback) reaches it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime" / "lambda_complex" / "runtime"
CLIENTS = {"sqs": "sqs", "lambda_client": "lambda", "ssm": "ssm"}
# The handler each kind of function runs (images/dockerfile.py, cfn/coordinator.py).
ENTRY_POINTS = {
    "component": ("wrapper", "handler"),
    "coordinator": ("coordinator", "handler"),
    "invoker": ("invoker", "handler"),
}

Def = tuple[str, str]  # (module, top-level def or class)


@dataclass(frozen=True)
class Call:
    module: str
    definition: str
    service: str
    operation: str  # botocore's snake_case name
    line: int


def _client_of(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The service of the client `node` evaluates to, if it is one of ours: `resources.sqs()`,
    a name bound to one, or `a or b` with one of those."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "resources"
            and node.func.attr in CLIENTS):
        return CLIENTS[node.func.attr]
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            service = _client_of(value, aliases)
            if service:
                return service
    return None


def _calls_in(module: str, name: str, body: ast.AST) -> list[Call]:
    aliases: dict[str, str] = {}
    for node in ast.walk(body):
        if isinstance(node, ast.Assign):
            service = _client_of(node.value, {})
            if service:
                aliases.update({t.id: service for t in node.targets if isinstance(t, ast.Name)})
    found = []
    for node in ast.walk(body):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        func = node.func
        if isinstance(func.value, ast.Name) and func.value.id == "resources":
            if func.attr == "queue_url":
                found.append(Call(module, name, "sqs", "get_queue_url", node.lineno))
            continue
        service = _client_of(func.value, aliases)
        if service:
            found.append(Call(module, name, service, func.attr, node.lineno))
    return found


def _modules() -> dict[str, ast.Module]:
    return {p.stem: ast.parse(p.read_text(), str(p)) for p in sorted(RUNTIME.glob("*.py"))
            if p.stem not in ("__init__", "resources")}


def _definitions(tree: ast.Module) -> dict[str, ast.AST]:
    return {node.name: node for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}


def aws_calls() -> list[Call]:
    calls = []
    for module, tree in _modules().items():
        for name, node in _definitions(tree).items():
            calls += _calls_in(module, name, node)
    return calls


def _imports(tree: ast.Module) -> tuple[dict[str, str], dict[str, Def]]:
    """Module aliases (`from . import config as config_mod`) and imported defs
    (`from .protocol import parse_envelope`) of one runtime module."""
    modules: dict[str, str] = {}
    names: dict[str, Def] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                if node.module is None:
                    modules[alias.asname or alias.name] = alias.name
                else:
                    names[alias.asname or alias.name] = (node.module, alias.name)
    return modules, names


def _references() -> dict[Def, set[Def]]:
    trees = _modules()
    defs = {module: _definitions(tree) for module, tree in trees.items()}
    graph: dict[Def, set[Def]] = {}
    for module, tree in trees.items():
        module_aliases, imported = _imports(tree)
        for name, body in defs[module].items():
            refs: set[Def] = set()
            for node in ast.walk(body):
                if isinstance(node, ast.Name):
                    if node.id in defs[module]:
                        refs.add((module, node.id))
                    elif node.id in imported:
                        refs.add(imported[node.id])
                elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id in module_aliases):
                    refs.add((module_aliases[node.value.id], node.attr))
            graph[(module, name)] = refs
    return graph


def reachable(kind: str) -> set[Def]:
    """Defs the handler of `kind` (component, coordinator, invoker) can reach."""
    graph = _references()
    seen: set[Def] = set()
    pending = [ENTRY_POINTS[kind]]
    while pending:
        node = pending.pop()
        if node in seen:
            continue
        seen.add(node)
        pending.extend(graph.get(node, ()))
    return seen
