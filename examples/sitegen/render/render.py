"""render: turns a page's lightweight markup into HTML.

Escaping uses MarkupSafe's C extension, which the image build compiles from source inside the
Amazon Linux image (see requirements.txt): the same binary Lambda will run.
"""

from __future__ import annotations

from typing import Any

import markupsafe


def speedups_compiled() -> bool:
    """True when MarkupSafe's C extension is in use (not its pure-Python fallback)."""
    try:
        from markupsafe import _speedups  # noqa: F401
    except ImportError:
        return False
    return True


def to_html(title: str, body: str) -> str:
    parts = [f"<h1>{markupsafe.escape(title)}</h1>"]
    for block in (b.strip() for b in body.split("\n\n")):
        if block.startswith("## "):
            parts.append(f"<h2>{markupsafe.escape(block[3:])}</h2>")
        elif block:
            parts.append(f"<p>{markupsafe.escape(block)}</p>")
    return (
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{markupsafe.escape(title)}</title></head>\n<body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    return {
        "site": event["site"],
        "slug": event["slug"],
        "title": event["title"],
        "html": to_html(event["title"], event["body"]),
        "text": event["body"],
        "speedups": speedups_compiled(),
    }
