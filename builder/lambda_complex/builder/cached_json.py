"""Cache files of facts that can be found again (what a base image holds, cfn-lint's findings per
template): JSON, read whole or not at all, written aside and renamed so that a reader never sees
half a file. A missing, unreadable or unwritable file only costs finding the fact again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def read(path: Path) -> Any | None:
    """The file's JSON value; None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write(path: Path, value: Any) -> None:
    partial = path.with_name(f".{path.stem}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps(value), encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
