"""A component is a plain Lambda handler: it gets the message's data and returns a result,
which the framework routes to the components named in `routing`."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    name = event.get("name", "world")
    return {"greeting": f"Hello, {name}!"}
