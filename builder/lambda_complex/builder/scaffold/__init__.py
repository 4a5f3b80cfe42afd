"""`lcbuild init DIR`: create a new application from the packaged template."""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from lambda_complex.builder.errors import UserError

_APP_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
# Files whose text holds the `{name}` placeholder.
_TEMPLATED = {"lambda-complex.yaml", "config.yaml", "README.md"}


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        relative = f"{prefix}{entry.name}"
        if entry.is_dir():
            found.extend(_files(entry, relative + "/"))
        else:
            found.append((relative, entry))
    return found


def create(directory: Path, name: str | None = None) -> list[Path]:
    """Write the template into `directory` (new or empty); return the files created."""
    app_name = name or re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-")
    if not _APP_NAME.fullmatch(app_name):
        raise UserError(f"'{app_name}' is not a valid application name: lowercase letters and "
                        "digits in words joined by single hyphens; pass --name")
    if directory.exists() and any(directory.iterdir()):
        raise UserError(f"{directory} is not empty; choose a new directory")
    return _copy(_template(), directory, app_name)


def write_stack_group(directory: Path, app_name: str, region: str,
                      tags: dict[str, str]) -> list[Path]:
    """The Sceptre project config (`config/`) of an application, as `init` writes it, with the
    definition's region and tags (for `lcbuild local run` on a project that has none)."""
    created = _copy(_template().joinpath("config"), directory / "config", app_name)
    config = directory / "config" / "config.yaml"
    lines = [f"project_code: {app_name}", f"region: {region}"]
    if tags:
        lines.append("stack_tags:")
        lines.extend(f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in tags.items())
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return created


def _template() -> Traversable:
    return resources.files(__package__).joinpath("template")


def _copy(template: Traversable, directory: Path, app_name: str) -> list[Path]:
    created: list[Path] = []
    for relative, source in _files(template):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        text = source.read_text(encoding="utf-8")
        if target.name in _TEMPLATED:
            text = text.replace("{name}", app_name)
        target.write_text(text, encoding="utf-8")
        created.append(target)
    return created
