"""Find the application definition of a Sceptre project and check the config agrees with it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import UserError

APP_FILE_ENV = "LCBUILD_APP"


def project_root(stack_group_config: dict[str, Any]) -> Path:
    return Path(stack_group_config.get("project_path") or ".").resolve()


def load_app(stack_group_config: dict[str, Any], app_file: str | None = None, *,
             project_code: str | None = None, region: str | None = None,
             stack_tags: dict[str, Any] | None = None) -> App:
    """lambda-complex.yaml of the project (or `app_file`, relative to the project), checked
    against the Sceptre config: project_code must be the app name, region its region."""
    import os

    root = project_root(stack_group_config)
    path = root / (app_file or os.environ.get(APP_FILE_ENV) or app_load.DEFAULT_FILE)
    app = _load(path)
    if project_code is not None and project_code != app.name:
        raise UserError(f"config/config.yaml: project_code '{project_code}' must be the "
                        f"application name '{app.name}' of {path}")
    if stack_tags is not None:
        wrong = {k: v for k, v in app.deployment.tags.items() if stack_tags.get(k) != v}
        if wrong:
            raise UserError(f"config/config.yaml: stack_tags must include deployment.tags of "
                            f"{path}: {wrong}")
    if region is not None and region != app.deployment.region:
        raise UserError(f"config/config.yaml: region '{region}' differs from deployment.region "
                        f"'{app.deployment.region}' of {path}")
    return app


def _load(path: Path) -> App:
    """The definition, loaded once per sceptre run (every stack's handler, resolver and hooks ask
    for it) unless the file changed meanwhile."""
    try:
        stat = path.stat()
    except OSError:
        return app_load.load(path)  # its own clear error
    return _load_version(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.cache
def _load_version(path: Path, mtime_ns: int, size: int) -> App:
    return app_load.load(path)
