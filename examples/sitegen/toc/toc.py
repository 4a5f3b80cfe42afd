"""toc: builds the site's index page from the page list."""

from __future__ import annotations

import html
from typing import Any


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    pages = sorted(event["pages"], key=lambda p: p["title"].lower())
    items = "\n".join(
        f'<li><a href="{html.escape(p["slug"])}.html">{html.escape(p["title"])}</a></li>'
        for p in pages
    )
    site = html.escape(event["site"])
    body = (
        f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{site}</title></head>\n"
        f"<body>\n<h1>{site}</h1>\n<ul>\n{items}\n</ul>\n</body></html>\n"
    )
    return {"site": event["site"], "slug": "index", "title": event["site"], "html": body}
