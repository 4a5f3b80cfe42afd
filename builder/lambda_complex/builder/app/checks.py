"""Checks on the whole definition, after every field has its type: references between fields,
name collisions, the length limits of the AWS resources derived from names, and files on disk."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from lambda_complex.builder.app.fields import Errors, join
from lambda_complex.builder.app.model import App, Component
from lambda_complex.runtime import names


def check_app(app: App, errors: Errors) -> None:
    _check_app_name(app, errors)
    _check_unique(
        [c.name for c in app.components], "components", "component", errors
    )
    _check_unique([r.name for r in app.roles], "roles", "role", errors)
    known = set(app.component_names)
    role_names = {r.name for r in app.roles}
    for index, component in enumerate(app.components):
        path = join("components", index)
        _check_component_names(app.name, component, path, errors)
        _check_routing(component, known, path, errors)
        _check_files(component, path, errors)
        if component.lambda_.role is not None and component.lambda_.role not in role_names:
            defined = ", ".join(sorted(role_names)) or "none are defined"
            errors.add(join(path, "lambda.role"),
                       f"role '{component.lambda_.role}' is not defined under roles ({defined})")
        if component.has_queue and component.visibility_timeout < component.lambda_.timeout:
            errors.add(join(path, "visibility_timeout"),
                       f"{component.visibility_timeout} s is shorter than lambda.timeout "
                       f"({component.lambda_.timeout} s): a message would be redelivered while "
                       "the invocation that took it may still be running")
    if app.coordinator.timeout <= app.coordinator.min_interval:
        errors.add("coordinator.timeout",
                   f"{app.coordinator.timeout} s must exceed min_interval "
                   f"({app.coordinator.min_interval} s): a generation waits that long")


def _check_app_name(app: App, errors: Errors) -> None:
    longest = names.schedule_rule_name(app.name)
    if len(longest) > names.FUNCTION_NAME_MAX:
        errors.add("name", f"'{app.name}' is too long: derived name '{longest}' exceeds "
                           f"{names.FUNCTION_NAME_MAX} characters")


def _check_unique(values: list[str], path: str, what: str, errors: Errors) -> None:
    """Exact duplicates, and names that differ only in case or separators (they would map to
    the same CloudFormation logical ID or ECR repository)."""
    seen: dict[str, list[int]] = defaultdict(list)
    for index, value in enumerate(values):
        if value:
            seen[names.collision_key(value)].append(index)
    for indices in seen.values():
        first = values[indices[0]]
        for index in indices[1:]:
            value = values[index]
            reason = (f"duplicate {what} name '{value}'" if value == first else
                      f"{what} name '{value}' collides with '{first}' "
                      f"({join(path, indices[0])}): both become the CloudFormation logical ID "
                      f"'{names.logical_id(value)}'; rename one")
            errors.add(join(join(path, index), "name"), reason)


def _check_component_names(app: str, component: Component, path: str, errors: Errors) -> None:
    derived = [
        (names.function_name(app, component.name), names.FUNCTION_NAME_MAX, "function"),
        (names.role_name(app, component.name), names.ROLE_NAME_MAX, "IAM role"),
        (names.inflight_queue_name(app, component.name), names.QUEUE_NAME_MAX, "queue"),
        (names.dead_letter_queue_name(app, component.name), names.QUEUE_NAME_MAX, "queue"),
    ]
    for derived_name, limit, kind in derived:
        if len(derived_name) > limit:
            errors.add(join(path, "name"),
                       f"'{component.name}' is too long: {kind} name '{derived_name}' has "
                       f"{len(derived_name)} characters, AWS allows {limit}")
            return


def _check_routing(component: Component, known: set[str], path: str, errors: Errors) -> None:
    for target in component.routing.components:
        if target in names.RESERVED_COMPONENT_NAMES:
            errors.add(join(path, "routing"),
                       f"'{target}' is the framework's own function, not a component; "
                       "route to one of: " + ", ".join(sorted(known)))
        elif target not in known:
            errors.add(join(path, "routing"),
                       f"unknown component '{target}'; known components: "
                       + ", ".join(sorted(known)))


def module_file(root: Path, module: str) -> Path | None:
    """The file defining dotted `module` under `root`, if there is one."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _check_files(component: Component, path: str, errors: Errors) -> None:
    folder = component.lambda_.path
    if not folder.is_dir():
        errors.add(join(path, "lambda.path"),
                   f"folder '{folder}' does not exist (paths are relative to the definition)")
        return
    module = component.lambda_.handler_module
    if module_file(folder, module) is None:
        errors.add(join(path, "lambda.handler"),
                   f"module '{module}' not found in '{folder}' (expected "
                   f"{module.replace('.', '/')}.py)")
    if component.routing.function:
        routing_module = component.routing.function.split(":", 1)[0]
        if module_file(folder, routing_module) is None:
            errors.add(join(path, "routing"),
                       f"routing module '{routing_module}' not found in '{folder}'")
