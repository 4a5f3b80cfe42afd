"""cfn-lint on every rendered template, through its Python API. A template with any error or
warning is refused with one line per finding (rule, path, message), before anything is deployed.

cfn-lint takes seconds per template (its import alone, sympy included, about one). Its answer
depends only on its version, the region and the template's text, so the findings are kept per
process and, when `$LCBUILD_LINT_CACHE` names a folder (the local run's deploys set it), on disk,
one file per key: a template linted once is not linted again while cfn-lint stays the same."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from lambda_complex.builder import cached_json
from lambda_complex.builder.errors import UserError


class TemplateLintError(UserError):
    pass


CACHE_ENV = "LCBUILD_LINT_CACHE"
_cache: dict[str, list[str]] = {}


def findings(template: dict[str, Any] | str, region: str) -> list[str]:
    """cfn-lint's errors and warnings, one line each ('E3012 Resources/Q/Properties/...: ...')."""
    body = template if isinstance(template, str) else json.dumps(template, indent=1)
    key = hashlib.sha256(f"{_version()}\0{region}\0{body}".encode()).hexdigest()
    if key not in _cache:
        stored = _stored(key)
        _cache[key] = stored if stored is not None else _lint(body, region)
        if stored is None:
            _store(key, _cache[key])
    return list(_cache[key])


@functools.cache
def _version() -> str:
    """cfn-lint's version file, read without importing cfn-lint (which takes seconds)."""
    spec = importlib.util.find_spec("cfnlint")
    folder = spec.submodule_search_locations if spec is not None else None
    try:
        return (Path(next(iter(folder or []))) / "version.py").read_text(encoding="utf-8")
    except (OSError, StopIteration):
        return ""


def _lint(body: str, region: str) -> list[str]:
    from cfnlint.api import ManualArgs, lint

    matches = lint(body, config=ManualArgs(regions=[region]))
    return [
        f"{m.rule.id} {'/'.join(str(p) for p in m.path)}: {m.message}"
        for m in matches
        if m.rule.severity in ("error", "warning")
    ]


def _stored(key: str) -> list[str] | None:
    folder = os.environ.get(CACHE_ENV)
    if not folder or not _version():
        return None
    found = cached_json.read(Path(folder) / f"{key}.json")
    return [str(line) for line in found] if isinstance(found, list) else None


def _store(key: str, lines: list[str]) -> None:
    folder = os.environ.get(CACHE_ENV)
    if folder and _version():
        cached_json.write(Path(folder) / f"{key}.json", lines)


def check(template: dict[str, Any] | str, region: str, what: str) -> None:
    problems = findings(template, region)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise TemplateLintError(f"{what}: the rendered template fails cfn-lint:\n{lines}")
