"""Read the build manifest (`.lcbuild/images.json`, written by `lcbuild images`): which image
each function runs, pinned by digest.

Format: {"components": {name: {"image_uri": ...} | {"repository": ..., "digest": ...}},
"coordinator": {...}}. Only what the stacks need is read here; a missing file or entry is a
`ManifestError` naming what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import UserError

MANIFEST_PATH = Path(".lcbuild") / "images.json"
COORDINATOR_KEY = "coordinator"


class ManifestError(UserError):
    pass


@dataclass(frozen=True)
class Images:
    """Image URI (by digest) of every component, and of the coordinator/invoker image."""

    components: dict[str, str]
    coordinator: str

    def for_component(self, name: str) -> str:
        return self.components[name]


def manifest_path(root: Path) -> Path:
    return root / MANIFEST_PATH


def _without_tag(uri: str) -> str:
    """`host:5000/repo:tag` -> `host:5000/repo` (a port is not a tag)."""
    head, _, last = uri.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def _image_uri(entry: Any, where: str, source: Path) -> str:
    """`image_uri` when pinned by digest; else repository (or image_uri without tag) @ digest."""
    if not isinstance(entry, dict):
        raise ManifestError(f"{source}: {where} is not an object")
    uri, repository, digest = entry.get("image_uri"), entry.get("repository"), entry.get("digest")
    if isinstance(uri, str) and "@sha256:" in uri:
        return uri
    if isinstance(digest, str) and digest.startswith("sha256:"):
        if isinstance(repository, str) and repository:
            return f"{repository}@{digest}"
        if isinstance(uri, str) and uri:
            return f"{_without_tag(uri)}@{digest}"
    raise ManifestError(
        f"{source}: {where} is not pinned by digest (needs image_uri with @sha256:..., or "
        "repository and digest)")


def read_raw(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ManifestError(
            f"the build manifest {path} does not exist: run `lcbuild images --push` first")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ManifestError(f"{path}: cannot read the build manifest: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("components"), dict):
        raise ManifestError(f"{path}: not a build manifest (no 'components' object)")
    return data


def component_image(path: Path, component: str) -> str:
    data = read_raw(path)
    if component == COORDINATOR_KEY:
        if COORDINATOR_KEY not in data:
            raise ManifestError(f"{path}: no coordinator image: run `lcbuild images --push`")
        return _image_uri(data[COORDINATOR_KEY], COORDINATOR_KEY, path)
    if component not in data["components"]:
        raise ManifestError(
            f"{path}: no image for component '{component}': run `lcbuild images --push`")
    return _image_uri(data["components"][component], f"components.{component}", path)


def read(path: Path, app: App) -> Images:
    """Every image the application needs; all missing components are named at once."""
    data = read_raw(path)
    missing = [name for name in app.component_names if name not in data["components"]]
    if COORDINATOR_KEY not in data:
        missing.append(COORDINATOR_KEY)
    if missing:
        raise ManifestError(
            f"{path}: no image for {', '.join(repr(m) for m in missing)} of application "
            f"'{app.name}': run `lcbuild images --push`")
    return Images(
        components={name: _image_uri(data["components"][name], f"components.{name}", path)
                    for name in app.component_names},
        coordinator=_image_uri(data[COORDINATOR_KEY], COORDINATOR_KEY, path),
    )
