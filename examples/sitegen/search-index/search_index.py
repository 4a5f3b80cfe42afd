"""search-index: merges each page's words into the site's search.json.

A read-modify-write of one object: the component runs with max_concurrency 1 so that no two
updates interleave and lose each other's pages.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import boto3

_s3 = None
WORD = re.compile(r"[a-z0-9]{3,}")


def _client() -> Any:
    global _s3
    if _s3 is None:
        _s3 = boto3.client("s3")
    return _s3


def merge(index: dict[str, list[str]], slug: str, text: str) -> dict[str, list[str]]:
    """Pure: the index with `slug` listed under each of its words, and nowhere else."""
    words = set(WORD.findall(text.lower()))
    merged = {w: [s for s in slugs if s != slug] for w, slugs in index.items()}
    for word in words:
        merged.setdefault(word, []).append(slug)
    return {w: sorted(slugs) for w, slugs in sorted(merged.items()) if slugs}


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    bucket = os.environ["SITE_BUCKET"]
    key = f"{event['site']}/search.json"
    s3 = _client()
    try:
        current = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        current = {}
    updated = merge(current, event["slug"], f"{event['title']} {event['text']}")
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(updated).encode(),
                  ContentType="application/json")
    return {"bucket": bucket, "key": key, "words": len(updated)}
