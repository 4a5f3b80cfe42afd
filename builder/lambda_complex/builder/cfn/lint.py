"""cfn-lint on every rendered template, through its Python API. A template with any error or
warning is refused with one line per finding (rule, path, message), before anything is deployed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lambda_complex.builder.errors import UserError


class TemplateLintError(UserError):
    pass


_cache: dict[str, list[str]] = {}


def findings(template: dict[str, Any] | str, region: str) -> list[str]:
    """cfn-lint's errors and warnings, one line each ('E3012 Resources/Q/Properties/...: ...')."""
    from cfnlint.api import ManualArgs, lint

    body = template if isinstance(template, str) else json.dumps(template, indent=1)
    key = hashlib.sha256(f"{region}\0{body}".encode()).hexdigest()
    if key not in _cache:
        matches = lint(body, config=ManualArgs(regions=[region]))
        _cache[key] = [
            f"{m.rule.id} {'/'.join(str(p) for p in m.path)}: {m.message}"
            for m in matches
            if m.rule.severity in ("error", "warning")
        ]
    return list(_cache[key])


def check(template: dict[str, Any] | str, region: str, what: str) -> None:
    problems = findings(template, region)
    if problems:
        lines = "\n".join(f"  {p}" for p in problems)
        raise TemplateLintError(f"{what}: the rendered template fails cfn-lint:\n{lines}")
