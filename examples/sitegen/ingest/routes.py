"""Routing function of ingest: one render message per page, and the page list to toc."""

from __future__ import annotations

from typing import Any


def fan_out(error: Exception | None, result: dict[str, Any] | None) -> list[dict[str, Any]]:
    if error is not None or result is None:
        return []  # the wrapper retries the input message, then dead-letters it
    routes = [{"name": "render", "data": page} for page in result["pages"]]
    listing = [{"slug": p["slug"], "title": p["title"]} for p in result["pages"]]
    routes.append({"name": "toc", "data": {"site": result["site"], "pages": listing}})
    return routes
