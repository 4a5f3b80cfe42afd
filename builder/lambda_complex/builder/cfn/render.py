"""Render a named stack of the application to a CloudFormation template (JSON), linted."""

from __future__ import annotations

import json
from typing import Any

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, coordinator, functions, lint, queues
from lambda_complex.builder.deploy.images import Images
from lambda_complex.builder.errors import UserError


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
