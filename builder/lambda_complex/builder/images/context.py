"""Files that go into an image: collection (with ignore rules), content hashes, tar contexts.

A build context is assembled from exactly the files that belong in the image, never from a whole
folder, so nothing stray (a virtualenv, secrets, caches) reaches the Docker engine or the hash.
Tar headers are normalised (owner, time, mode) so identical content gives identical contexts and
layer caches hit across machines and checkouts.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IGNORE_FILE = ".lcbuildignore"
# A `.dockerignore` the component already has is honoured too (read first, so the
# `.lcbuildignore` patterns decide where they disagree).
DOCKER_IGNORE_FILE = ".dockerignore"
IGNORE_FILES = (DOCKER_IGNORE_FILE, IGNORE_FILE)
# Never part of an image: caches, VCS data, virtualenvs, the ignore files themselves, and files
# that hold secrets by convention (dotenv files, AWS and SSH credentials, private keys). Whoever can
# pull an image can read every file in it: a key copied in is a key published.
SECRET_IGNORES = (
    ".env*", ".aws/", ".ssh/", "*.pem", "*.key", "*.p12", "*.pfx",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".pypirc", ".git-credentials",
)
DEFAULT_IGNORES = (
    "__pycache__/", "*.pyc", "*.pyo", ".git/", ".hg/", ".svn/", ".venv/", "venv/",
    ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".hypothesis/", ".DS_Store",
    *IGNORE_FILES, *SECRET_IGNORES,
)
# Not even `!pattern` brings VCS data back (history holds every secret ever committed).
_FORCED_IGNORES = (".git/",)
# Dependency files go into the dependency stage, not the code layer: a code change must not
# invalidate the (slow) pip layer, and a requirements change must not look like a code change.
DEPENDENCY_PATTERNS = ("requirements*.txt", "constraints*.txt")
# 1980-01-01: a fixed time for every tar entry (zip-safe, like SOURCE_DATE_EPOCH conventions).
FIXED_MTIME = 315532800


@dataclass(frozen=True)
class Entry:
    """One file of a build context."""

    name: str  # posix path inside the context
    data: bytes
    executable: bool = False

    @property
    def mode(self) -> int:
        return 0o755 if self.executable else 0o644


def read_ignore_file(folder: Path) -> tuple[str, ...]:
    """The patterns of the component's `.dockerignore` and then `.lcbuildignore` (later ones win,
    `!pattern` re-includes), blank lines and `#` comments dropped."""
    patterns: list[str] = []
    for name in IGNORE_FILES:
        path = folder / name
        if path.is_file():
            lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
            patterns += [line for line in lines if line and not line.startswith("#")]
    return tuple(patterns)


def _matches(rel: str, base: str, is_dir: bool, pattern: str) -> bool:
    dir_only = pattern.endswith("/")
    p = pattern.rstrip("/").lstrip("/").removeprefix("**/")
    if dir_only and not is_dir:
        return False
    target = rel if "/" in p else base
    return fnmatch.fnmatchcase(target, p)


def is_ignored(rel: str, is_dir: bool, patterns: Iterable[str]) -> bool:
    """gitignore-like: `name/` matches directories only; a pattern without `/` matches any path
    component's name; a pattern with `/` matches the whole relative path; `!pattern` re-includes
    what an earlier pattern ignored, defaults included (the last matching pattern decides), except
    `.git/`, which is always ignored."""
    base = rel.rsplit("/", 1)[-1]
    if any(_matches(rel, base, is_dir, p) for p in _FORCED_IGNORES):
        return True
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        if _matches(rel, base, is_dir, pattern.removeprefix("!")):
            ignored = not negate
    return ignored


def is_dependency_file(rel: str) -> bool:
    return "/" not in rel and any(fnmatch.fnmatchcase(rel, p) for p in DEPENDENCY_PATTERNS)


def collect(folder: Path, prefix: str = "", extra_ignores: Iterable[str] = ()) -> list[Entry]:
    """Every file under `folder` that is not ignored, sorted by name, named `prefix + rel`."""
    patterns = (*DEFAULT_IGNORES, *extra_ignores, *read_ignore_file(folder))
    entries: list[Entry] = []

    def walk(directory: Path, rel_dir: str) -> None:
        for child in sorted(directory.iterdir(), key=lambda p: p.name):
            rel = f"{rel_dir}{child.name}"
            if child.is_dir():
                if not is_ignored(rel, True, patterns):
                    walk(child, rel + "/")
            elif child.is_file() and not is_ignored(rel, False, patterns):
                executable = bool(child.stat().st_mode & 0o111)
                entries.append(Entry(prefix + rel, child.read_bytes(), executable))

    walk(folder, "")
    return entries


def code_files(folder: Path, prefix: str = "") -> list[Entry]:
    """The component's code: every non-ignored file except the dependency files."""
    return [Entry(prefix + e.name, e.data, e.executable)
            for e in collect(folder) if not is_dependency_file(e.name)]


def dependency_files(folder: Path, prefix: str = "") -> list[Entry]:
    return [Entry(prefix + e.name, e.data, e.executable)
            for e in collect(folder) if is_dependency_file(e.name)]


def digest(entries: Iterable[Entry]) -> str:
    """Content hash of a set of files: names, modes and contents, independent of order."""
    h = hashlib.sha256()
    for e in sorted(entries, key=lambda e: e.name):
        h.update(f"{e.name}\0{e.mode:o}\0{hashlib.sha256(e.data).hexdigest()}\n".encode())
    return h.hexdigest()


def digest_text(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def tar(entries: Iterable[Entry]) -> bytes:
    """An uncompressed tar of the entries with normalised headers (a Docker build context)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for e in sorted(entries, key=lambda e: e.name):
            info = tarfile.TarInfo(e.name)
            info.size = len(e.data)
            info.mode = e.mode
            info.mtime = FIXED_MTIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            archive.addfile(info, io.BytesIO(e.data))
    return buffer.getvalue()
