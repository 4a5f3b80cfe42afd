"""Folders the local testbed builds once and reuses: the emulator's environment, each component's
installed requirements, the staged runtime package, the base image's packages.

Each lives under the user's cache directory (`$XDG_CACHE_HOME/lambda-complex`, by default
`~/.cache/lambda-complex`, as the XDG Base Directory specification says:
https://specifications.freedesktop.org/basedir-spec/latest/), named by a hash of what goes into it,
so a changed input makes a new folder and an unchanged one is found again. A folder is built in a
temporary sibling and renamed into place, under a file lock: two runs at once never both build
it, and a build that fails or is interrupted leaves nothing that looks finished.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

CACHE_ENV = "XDG_CACHE_HOME"
TOOL_DIR = "lambda-complex"


def root() -> Path:
    base = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache")
    return Path(base) / TOOL_DIR


def key(parts: Iterable[str | bytes]) -> str:
    """A short hash of `parts`, in order: the name of the folder they make."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:16]


def interpreter_tag() -> str:
    """What compiled packages depend on: the Python implementation, version and platform."""
    version = f"{sys.implementation.name}{sys.version_info.major}.{sys.version_info.minor}"
    return f"{version}-{sys.platform}-{os.uname().machine}"


def say(message: str) -> None:
    """One progress line on stderr (stdout stays the command's own output)."""
    print(f"lcbuild: {message}", file=sys.stderr, flush=True)


def display(path: Path) -> str:
    """`path` with the home directory shortened to ~, for progress lines."""
    home = str(Path.home())
    text = str(path)
    return "~" + text[len(home):] if text.startswith(home + os.sep) else text


def build_once(final: Path, build: Callable[[Path], None]) -> Path:
    """`final`, built by `build(temporary folder)` unless it already exists."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if final.is_dir():  # built by another run while this one waited
            return final
        partial = final.parent / f".{final.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        try:
            build(partial)
            os.rename(partial, final)
        except OSError:
            shutil.rmtree(partial, ignore_errors=True)
            if final.is_dir():  # put there meanwhile by something that took no lock: use it
                return final
            raise
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return final
