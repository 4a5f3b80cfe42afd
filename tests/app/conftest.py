from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

VALID: dict[str, Any] = {
    "name": "shop",
    "version": "1.0.0",
    "deployment": {"region": "eu-west-1", "registry": "ecr", "tags": {"team": "web"}},
    "coordinator": {"concurrency": 2, "min_interval": 5},
    "roles": [{"name": "default", "statements": [
        {"effect": "Allow", "action": ["s3:PutObject"], "resource": "arn:aws:s3:::b/*"}]}],
    "components": [
        {"name": "orders", "type": "event_from_message", "max_concurrency": 2,
         "queue_wait_time": 5, "batch_size": 10, "routing": ["bill", "notify"],
         "lambda": {"path": "orders", "handler": "orders.handler", "role": "default"}},
        {"name": "bill", "type": "event_from_message", "routing": "notify",
         "lambda": {"path": "bill", "handler": "bill.handler", "timeout": 30}},
        {"name": "notify", "type": "event_from_invocation",
         "routing": {"function": "route:pick", "targets": ["bill"]},
         "lambda": {"path": "notify", "handler": "pkg.mod.handler"}},
    ],
}


def write_app_tree(root: Path) -> None:
    for name, module in (("orders", "orders.py"), ("bill", "bill.py"),
                         ("notify", "pkg/mod.py"), ("notify", "route.py")):
        path = root / name / module
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("def handler(event, context):\n    return event\n"
                        "def pick(error, result):\n    return []\n")


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    write_app_tree(tmp_path)
    return tmp_path


@pytest.fixture
def write_definition(app_dir: Path) -> Callable[[Any], Path]:
    def write(data: Any) -> Path:
        path = app_dir / "lambda-complex.yaml"
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        return path

    return write


def valid() -> dict[str, Any]:
    return copy.deepcopy(VALID)
