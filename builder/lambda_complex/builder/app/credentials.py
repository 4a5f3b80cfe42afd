"""Refuse credentials anywhere in the definition: like the AWS SDK, we take them from the
environment (or the instance/role), never from a file that ends up in git or an image."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lambda_complex.builder.app.fields import join

# Field names that only ever hold a secret.
_SECRET_KEY = re.compile(
    r"(aws_)?(access_key(_id)?|secret(_access)?_key|session_token|secret|password|passwd|"
    r"api_key|private_key|credentials?)",
    re.IGNORECASE,
)
# AWS access key IDs (long-term AKIA, temporary ASIA) and PEM private keys, wherever they appear.
_SECRET_VALUE = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----")


def _normalise(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


def find_credentials(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield (field path, reason) for every credential-looking key or value.

    A value shared through YAML aliases is scanned once, at its first path: walking it again
    for every alias would take time exponential in the aliases' nesting."""
    yield from _scan(data, path, set())


def _scan(data: Any, path: str, seen: set[int]) -> Iterator[tuple[str, str]]:
    if isinstance(data, dict | list):
        if id(data) in seen:
            return
        seen.add(id(data))
    if isinstance(data, dict):
        for key, value in data.items():
            child = join(path, str(key))
            if isinstance(key, str) and _SECRET_KEY.fullmatch(_normalise(key)) and value:
                yield child, (
                    "credentials do not belong in the application definition; provide them "
                    "through the environment (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...) or an IAM role"
                )
                continue
            yield from _scan(value, child, seen)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from _scan(item, join(path, index), seen)
    elif isinstance(data, str) and _SECRET_VALUE.search(data):
        yield path, (
            "this value looks like an AWS access key or a private key; remove it and provide "
            "credentials through the environment or an IAM role"
        )
