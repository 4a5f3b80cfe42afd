"""ingest: takes a site description and checks it; its routing function fans the pages out."""

from __future__ import annotations

import re
from typing import Any

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


class InvalidSite(ValueError):
    """The site description is unusable; retrying will not help."""


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    site = event.get("site")
    pages = event.get("pages")
    if not isinstance(site, str) or not SLUG.fullmatch(site):
        raise InvalidSite(f"'site' must be a slug such as 'demo'; got {site!r}")
    if not isinstance(pages, list) or not pages:
        raise InvalidSite("'pages' must be a non-empty list")
    checked = []
    for index, page in enumerate(pages):
        slug = page.get("slug") if isinstance(page, dict) else None
        if not isinstance(slug, str) or not SLUG.fullmatch(slug) or slug == "index":
            raise InvalidSite(f"pages[{index}].slug must be a slug, not 'index'; got {slug!r}")
        checked.append({
            "site": site,
            "slug": slug,
            "title": str(page.get("title") or slug),
            "body": str(page.get("body", "")),
        })
    return {"site": site, "pages": checked}
