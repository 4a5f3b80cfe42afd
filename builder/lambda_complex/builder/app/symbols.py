"""Whether a Python module defines a name at its top level, read with `ast`: the module is never
imported, since the host may lack the component's dependencies (and importing runs its code).

A name counts as defined when the module binds it at top level (def, async def, class, an
assignment, an import), also inside top-level if/try/with/for blocks (`try: from fast import f
except ImportError: def f(...)`). A module with a module-level `__getattr__` or a star import may
define any name, so it is given the benefit of the doubt.
"""

from __future__ import annotations

import ast
import difflib
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TopLevel:
    names: frozenset[str]
    open_ended: bool  # `from x import *` or a module `__getattr__`: any name may exist


def top_level(tree: ast.Module) -> TopLevel:
    names: set[str] = set()
    open_ended = False
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    open_ended = True
                else:
                    names.add(alias.asname or alias.name)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:  # `name: T` alone binds nothing
                names.update(_bound_names(node))
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.For | ast.AsyncFor | ast.With
                        | ast.AsyncWith):
            names.update(_bound_names(node))
        for field in ("body", "orelse", "finalbody"):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                pending.extend(getattr(node, field, []))
        for handler in getattr(node, "handlers", []):  # try/except
            pending.extend(handler.body)
        for case in getattr(node, "cases", []):  # match
            pending.extend(case.body)
    # Walrus assignments anywhere at top level bind module names too.
    for stmt in tree.body:
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.NamedExpr) and isinstance(sub.target, ast.Name):
                    names.add(sub.target.id)
    return TopLevel(frozenset(names), open_ended or "__getattr__" in names)


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.Assign):
        targets: list[ast.expr] = list(node.targets)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign | ast.For | ast.AsyncFor):
        targets = [node.target]
    elif isinstance(node, ast.With | ast.AsyncWith):
        targets = [i.optional_vars for i in node.items if i.optional_vars is not None]
    else:
        targets = []
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def missing_function(file: Path, function: str, shown_as: str) -> str | None:
    """Why `function` cannot be taken from the module in `file` (named `shown_as` in the
    message), or None when it can (or may, see `TopLevel.open_ended`)."""
    try:
        tree = ast.parse(file.read_bytes(), filename=shown_as)
    except SyntaxError as e:
        # Parsed by this interpreter, which may be older than the image's Python.
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        return f"cannot parse {shown_as} with Python {python}: {e.msg} (line {e.lineno})"
    except (OSError, ValueError) as e:  # unreadable, or null bytes in the source
        return f"cannot read {shown_as}: {e}"
    found = top_level(tree)
    if found.open_ended or function in found.names:
        return None
    close = difflib.get_close_matches(function, sorted(found.names), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"function '{function}' not found in {shown_as}{hint}"
