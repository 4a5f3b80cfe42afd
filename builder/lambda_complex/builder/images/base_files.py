"""Which of a few paths a base image holds (the build tools' files: dockerfile.BUILD_TOOL_PATHS),
remembered per set of layers in `.lcbuild/base-files/`. An image's files are its layers', so a
new tag or a child that only adds metadata (a LABEL) over the same layers is not read again, and
a dependency stage rebuilt for a changed requirement starts without reading the base first.
A cache of facts that can be read again: a missing or unreadable entry only costs the read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from lambda_complex.builder import cached_json

FOLDER = "base-files"  # under the state folder (.lcbuild)


def key(layers: Sequence[str], paths: Sequence[str]) -> str:
    """Names what was asked of which file system (the layers' digests, in order)."""
    return hashlib.sha256(json.dumps([list(layers), sorted(paths)]).encode()).hexdigest()[:32]


def recall(state: Path, entry: str) -> frozenset[str] | None:
    found = cached_json.read(state / FOLDER / f"{entry}.json")
    if not isinstance(found, list) or not all(isinstance(p, str) for p in found):
        return None
    return frozenset(found)


def remember(state: Path, entry: str, present: frozenset[str]) -> None:
    cached_json.write(state / FOLDER / f"{entry}.json", sorted(present))
