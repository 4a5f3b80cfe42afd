"""The runtime ships inside every image: stdlib and boto3/botocore only, never the builder."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime" / "lambda_complex" / "runtime"
ALLOWED_THIRD_PARTY = {"boto3", "botocore", "mypy_boto3_sqs", "mypy_boto3_lambda",
                       "mypy_boto3_ssm"}  # the stubs only under TYPE_CHECKING


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_runtime_imports_only_stdlib_boto3_and_itself() -> None:
    offenders = []
    for path in sorted(RUNTIME.glob("*.py")):
        for module in imported_modules(path):
            top = module.split(".")[0]
            if module.startswith("lambda_complex.runtime") or top == "__future__":
                continue
            if top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY:
                continue
            offenders.append(f"{path.name}: {module}")
    assert not offenders, offenders
    assert len(list(RUNTIME.glob("*.py"))) > 10  # the glob found the package
