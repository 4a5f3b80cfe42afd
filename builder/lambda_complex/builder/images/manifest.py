"""The build manifest `.lcbuild/images.json`: image name (component, or `coordinator`) ->
repository, tag, digest, content hash, inputs. Deployments read the digest from here.

Written atomically (temp file + rename) so a crash never leaves half a manifest, and only with
entries for images that exist: a failed build leaves no entry for its component.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

FILE = Path(".lcbuild") / "images.json"
VERSION = 1


def path_for(app_root: Path) -> Path:
    return app_root / FILE


def read(path: Path) -> dict[str, dict[str, Any]]:
    """The previous entries by image name; empty when missing or unreadable (a manifest is a
    cache of facts that can be re-established, never the only copy of anything)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, dict):
        return {}
    return {str(k): v for k, v in images.items() if isinstance(v, dict)}


def entry(*, repository: str, tag: str, digest: str | None, image_id: str | None,
          content_hash: str, platform: str, inputs: dict[str, str]) -> dict[str, Any]:
    # Deploy by digest: the URI is digest-pinned whenever the image is in a registry.
    uri = f"{repository}@{digest}" if digest else f"{repository}:{tag}"
    return {
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "uri": uri,
        "image_id": image_id,
        "content_hash": content_hash,
        "platform": platform,
        "inputs": dict(inputs),
    }


def write(path: Path, app: str, images: dict[str, dict[str, Any]]) -> None:
    document = {"version": VERSION, "app": app,
                "images": {name: images[name] for name in sorted(images)}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".images.", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
