"""publish: writes one rendered page to the site bucket."""

from __future__ import annotations

import os
from typing import Any

import boto3

_s3 = None


def _client() -> Any:
    global _s3
    if _s3 is None:  # once per container: warm invocations reuse the connection
        _s3 = boto3.client("s3")
    return _s3


def handler(event: dict[str, Any], context: object) -> dict[str, str]:
    bucket = os.environ["SITE_BUCKET"]
    key = f"{event['site']}/{event['slug']}.html"
    _client().put_object(
        Bucket=bucket, Key=key, Body=event["html"].encode("utf-8"),
        ContentType="text/html; charset=utf-8",
    )
    return {"bucket": bucket, "key": key}
