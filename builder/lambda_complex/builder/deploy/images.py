"""The images a deployment runs, from the build manifest that `lcbuild images --push` writes
(`images/manifest.py`: one format, one writer). Every function is deployed by digest, so an entry
that was built but never pushed (no digest) is refused with what to run.

`LCBUILD_MANIFEST` names another manifest file: `lcbuild local run` deploys with placeholder
images that way (the local Lambda service runs the source or the local images instead).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.images import manifest
from lambda_complex.runtime import names

MANIFEST_ENV = "LCBUILD_MANIFEST"
COORDINATOR_KEY = names.COORDINATOR
_PUSH_HINT = "run `lcbuild images --push`"


class ManifestError(UserError):
    pass


def manifest_path(app_root: Path) -> Path:
    override = os.environ.get(MANIFEST_ENV)
    return Path(override) if override else manifest.path_for(app_root)


def _image_uri(entries: dict[str, Any], name: str, source: Path) -> str:
    entry = entries.get(name)
    if not isinstance(entry, dict):
        raise ManifestError(f"{source}: no image for '{name}': {_PUSH_HINT}")
    repository, digest = entry.get("repository"), entry.get("digest")
    if not (isinstance(digest, str) and digest.startswith("sha256:")):
        raise ManifestError(f"{source}: the image of '{name}' was built but not pushed, so it "
                            f"has no digest to deploy: {_PUSH_HINT}")
    if not (isinstance(repository, str) and repository):
        raise ManifestError(f"{source}: the entry of '{name}' has no repository: {_PUSH_HINT}")
    return f"{repository}@{digest}"


def _entries(path: Path, app_name: str | None) -> dict[str, Any]:
    if not path.is_file():
        raise ManifestError(f"the build manifest {path} does not exist: {_PUSH_HINT} first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ManifestError(f"{path}: cannot read the build manifest: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("images"), dict):
        raise ManifestError(f"{path}: not a build manifest (no 'images' object): {_PUSH_HINT}")
    if app_name is not None and data.get("app") != app_name:
        raise ManifestError(f"{path}: built for application '{data.get('app')}', not "
                            f"'{app_name}': {_PUSH_HINT}")
    images: dict[str, Any] = data["images"]
    return images


def component_image(path: Path, component: str) -> str:
    """The URI of one image (`coordinator` for the coordinator/invoker image)."""
    return _image_uri(_entries(path, None), component, path)


def read(path: Path, app: App) -> Images:
    """Every image the application needs; all missing or unpushed ones are named at once."""
    entries = _entries(path, app.name)
    problems: list[str] = []
    uris: dict[str, str] = {}
    for name in (*app.component_names, COORDINATOR_KEY):
        try:
            uris[name] = _image_uri(entries, name, path)
        except ManifestError as e:
            problems.append(str(e))
    if problems:
        raise ManifestError("\n".join(problems))
    coordinator = uris.pop(COORDINATOR_KEY)
    return Images(components=uris, coordinator=coordinator)
