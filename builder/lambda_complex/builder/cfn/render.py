"""Render a named stack of the application to a CloudFormation template (JSON), linted; and all
three offline (`lcbuild render`), from the definition and the build manifest alone."""

from __future__ import annotations

import json
from typing import Any

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, coordinator, functions, lint, queues
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.errors import UserError
from lambda_complex.runtime import names

# Where an image has no digest yet (never pushed, or not built): a repository that says so and a
# digest no registry holds, so a rendered template can never be mistaken for a deployable one.
PLACEHOLDER_REPOSITORY = "lcbuild-placeholder-not-pushed"
PLACEHOLDER_DIGEST = "sha256:" + "0" * 64


class UnknownStackError(UserError):
    pass


def render(app: App, stack: str, images: Images | None = None,
           deployed: dict[str, Any] | None = None) -> dict[str, Any]:
    """`deployed`: the queues template now deployed (retiring queues are kept);
    `images`: needed by the functions and coordinator stacks."""
    if stack == common.QUEUES:
        return queues.render(app, deployed)
    if stack not in common.STACKS:
        raise UnknownStackError(
            f"unknown stack '{stack}': lambda-complex renders {', '.join(common.STACKS)}")
    if images is None:
        raise UserError(f"the {stack} stack needs the build manifest's images")
    if stack == common.FUNCTIONS:
        return functions.render(app, images)
    return coordinator.render(app, images)


def to_json(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=2, sort_keys=False)


def render_checked(app: App, stack: str, images: Images | None = None,
                   deployed: dict[str, Any] | None = None) -> str:
    """Rendered and passed through cfn-lint, or a UserError listing the findings."""
    body = to_json(render(app, stack, images, deployed))
    lint.check(body, app.deployment.region, f"stack '{common.stack_name(app, stack)}'")
    return body


def offline_images(app: App, entries: dict[str, Any]) -> Images:
    """The manifest's image of every component and the coordinator, pinned by digest; a
    placeholder (PLACEHOLDER_REPOSITORY, PLACEHOLDER_DIGEST) where an entry has no digest."""
    uris: dict[str, str] = {}
    for name in (*app.component_names, names.COORDINATOR):
        entry = entries.get(name)
        entry = entry if isinstance(entry, dict) else {}
        repository, digest = entry.get("repository"), entry.get("digest")
        if (isinstance(repository, str) and repository and isinstance(digest, str)
                and digest.startswith("sha256:")):
            uris[name] = f"{repository}@{digest}"
        else:
            repo = naming.ecr_repository_name(app.name, name)
            uris[name] = f"{PLACEHOLDER_REPOSITORY}/{repo}@{PLACEHOLDER_DIGEST}"
    coordinator_uri = uris.pop(names.COORDINATOR)
    return Images(components=uris, coordinator=coordinator_uri)


def render_offline(app: App, images: Images) -> dict[str, str]:
    """Stack name -> linted template body of every stack, without any AWS call: the queues
    stack as a first deploy renders it (no deployed stack whose retiring queues it keeps)."""
    return {common.stack_name(app, stack): render_checked(
        app, stack, None if stack == common.QUEUES else images) for stack in common.STACKS}
