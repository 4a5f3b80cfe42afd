"""`!lc_image <component>`: the image URI (by digest) of a component (or `coordinator`) from the
build manifest; `!lc_image` without argument: {component: uri, ..., "coordinator": uri} for the
whole application. Read when resolved (lazily), never written: no side effect on validate/diff."""

from __future__ import annotations

from typing import Any

from sceptre.resolvers import Resolver

from lambda_complex.builder.deploy import images
from lambda_complex.builder.sceptre import project
from lambda_complex.builder.sceptre.errors import as_sceptre_errors


class LcImage(Resolver):  # type: ignore[misc]
    @as_sceptre_errors
    def resolve(self) -> Any:
        app = project.load_app(self.stack.stack_group_config, project_code=self.stack.project_code,
                               region=self.stack.region)
        path = images.manifest_path(app.root)
        if self.argument:
            return images.component_image(path, str(self.argument))
        found = images.read(path, app)
        return {**found.components, images.COORDINATOR_KEY: found.coordinator}
