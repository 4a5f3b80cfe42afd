"""Which of a few paths a base image holds (the build tools' files: dockerfile.BUILD_TOOL_PATHS),
remembered per set of layers in `.lcbuild/base-files/`. An image's files are its layers', so a
new tag or a child that only adds metadata (a LABEL) over the same layers is not read again, and
a dependency stage rebuilt for a changed requirement starts without reading the base first.
A cache of facts that can be read again: a missing or unreadable entry only costs the read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

FOLDER = "base-files"  # under the state folder (.lcbuild)


def key(layers: Sequence[str], paths: Sequence[str]) -> str:
    """Names what was asked of which file system (the layers' digests, in order)."""
    return hashlib.sha256(json.dumps([list(layers), sorted(paths)]).encode()).hexdigest()[:32]


def recall(state: Path, entry: str) -> frozenset[str] | None:
    try:
        found = json.loads((state / FOLDER / f"{entry}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(found, list) or not all(isinstance(p, str) for p in found):
        return None
    return frozenset(found)


def remember(state: Path, entry: str, present: frozenset[str]) -> None:
    path = state / FOLDER / f"{entry}.json"
    partial = path.with_name(f".{entry}.{os.getpid()}")
    try:  # written aside, then renamed: a reader never sees half a file
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(sorted(present)), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)  # not written: the next build reads the base again
