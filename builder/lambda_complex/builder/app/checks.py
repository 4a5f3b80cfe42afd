"""Checks on the whole definition, after every field has its type: references between fields,
name collisions (also of every derived AWS name), the length limits of those names, a message
component's timeout against the runtime's time policy, and files on disk with the functions the
definition names in them (handler, routing function, switchover), found without importing."""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from lambda_complex.builder.app import collisions, naming, symbols
from lambda_complex.builder.app.fields import Errors, join
from lambda_complex.builder.app.model import App, Component
from lambda_complex.runtime import consume, names


def check_app(app: App, errors: Errors, routing_fields: Sequence[str] = ()) -> None:
    """`routing_fields[i]`: where component i names its routing function (`routing`, or
    `routing.function` in the mapping form), so a message points at the right field."""
    _check_app_name(app, errors)
    _check_unique(
        [c.name for c in app.components], "components", "component", errors
    )
    _check_unique([r.name for r in app.roles], "roles", "role", errors)
    _check_derived_names(app, errors)
    _check_switchover(app, errors)
    _check_renames(app, errors)
    known = set(app.component_names)
    role_names = {r.name for r in app.roles}
    for index, component in enumerate(app.components):
        path = join("components", index)
        routing_field = routing_fields[index] if index < len(routing_fields) else "routing"
        _check_component_names(app.name, component, path, errors)
        _check_routing(component, known, path, errors)
        _check_files(component, path, join(path, routing_field), errors)
        _check_timeout(component, path, errors)
        if component.lambda_.role is not None and component.lambda_.role not in role_names:
            defined = ", ".join(sorted(role_names)) or "none are defined"
            errors.add(join(path, "lambda.role"),
                       f"role '{component.lambda_.role}' is not defined under roles ({defined})")
        # For dispatch: native AWS enforces it too: CreateEventSourceMapping fails when the
        # function timeout exceeds the queue's visibility timeout
        # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
        if component.has_queue and component.visibility_timeout < component.lambda_.timeout:
            errors.add(join(path, "visibility_timeout"),
                       f"{component.visibility_timeout} s is shorter than lambda.timeout "
                       f"({component.lambda_.timeout} s): a message would be redelivered while "
                       "the invocation that took it may still be running")
    if app.coordinator.timeout <= app.coordinator.min_interval:
        errors.add("coordinator.timeout",
                   f"{app.coordinator.timeout} s must exceed min_interval "
                   f"({app.coordinator.min_interval} s): a generation waits that long")


def _check_renames(app: App, errors: Errors) -> None:
    """An earlier name is nobody's name now, and only one component claims it."""
    current = set(app.component_names)
    claimed: dict[str, str] = {}
    for index, component in enumerate(app.components):
        for k, old in enumerate(component.renamed_from):
            path = join(join(join("components", index), "renamed_from"), k)
            if old in current:
                errors.add(path, f"'{old}' is the name of a component of this definition; "
                                 "renamed_from lists names components no longer have")
            elif old in claimed and claimed[old] != component.name:
                errors.add(path, f"'{old}' is also listed by component '{claimed[old]}': "
                                 "one component can take over an earlier one's queues")
            claimed.setdefault(old, component.name)


def _check_app_name(app: App, errors: Errors) -> None:
    longest = naming.schedule_rule_name(app.name)
    if len(longest) > names.FUNCTION_NAME_MAX:
        errors.add("name", f"'{app.name}' is too long: derived name '{longest}' exceeds "
                           f"{names.FUNCTION_NAME_MAX} characters")


def _check_unique(values: list[str], path: str, what: str, errors: Errors) -> None:
    """Exact duplicates, and names that differ only in case or separators (they would map to
    the same CloudFormation logical ID or ECR repository)."""
    seen: dict[str, list[int]] = defaultdict(list)
    for index, value in enumerate(values):
        if value:
            seen[naming.collision_key(value)].append(index)
    for indices in seen.values():
        first = values[indices[0]]
        for index in indices[1:]:
            value = values[index]
            reason = (f"duplicate {what} name '{value}'" if value == first else
                      f"{what} name '{value}' collides with '{first}' "
                      f"({join(path, indices[0])}): both become the CloudFormation logical ID "
                      f"'{naming.logical_id(value)}'; rename one")
            errors.add(join(join(path, index), "name"), reason)


def _check_component_names(app: str, component: Component, path: str, errors: Errors) -> None:
    derived = [
        (names.function_name(app, component.name), names.FUNCTION_NAME_MAX, "function"),
        (naming.role_name(app, component.name), naming.ROLE_NAME_MAX, "IAM role"),
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


def _check_timeout(component: Component, path: str, errors: Errors) -> None:
    if not component.has_queue:
        return
    minimum = consume.min_timeout_s(component.queue_wait_time)
    if component.lambda_.timeout < minimum:
        errors.add(join(path, "lambda.timeout"),
                   f"{component.lambda_.timeout} s is too short for an event_from_message "
                   f"component: it needs at least {minimum} s to receive a message and call the "
                   "handler, since the runtime keeps time in reserve to route and delete")


def _check_derived_names(app: App, errors: Errors) -> None:
    for hit in collisions.collisions(app):
        first, second = hit.first, hit.second
        if first.owner is not None and second.owner is not None and (
            naming.collision_key(app.components[first.owner].name)
            == naming.collision_key(app.components[second.owner].name)
        ):
            continue  # the same name twice: _check_unique reports it
        where = f" ({join('components', first.owner)})" if first.owner is not None else ""
        path = join(join("components", second.owner), "name") if second.owner is not None else ""
        if first.name == second.name:
            message = (f"{hit.kind} name '{second.name}' ({second.what}) is also {first.what}"
                       f"{where}; rename one")
        else:
            message = (f"{hit.kind} name '{second.name}' ({second.what}) equals '{first.name}' "
                       f"({first.what}{where}) ignoring case, as AWS compares {hit.kind} names; "
                       "rename one")
        errors.add(path, message)


def module_file(root: Path, module: str) -> Path | None:
    """The file defining dotted `module` under `root`, if there is one."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _shown(file: Path, root: Path) -> str:
    return file.relative_to(root).as_posix()


def _check_callable(root: Path, module: str, function: str, path: str, what: str,
                    errors: Errors) -> None:
    file = module_file(root, module)
    if file is None:
        errors.add(path, f"{what} '{module}' not found in '{root}' (expected "
                         f"{module.replace('.', '/')}.py)")
        return
    problem = symbols.missing_function(file, function, _shown(file, root))
    if problem is not None:
        errors.add(path, problem)


def _check_files(component: Component, path: str, routing_path: str, errors: Errors) -> None:
    folder = component.lambda_.path
    if not folder.is_dir():
        errors.add(join(path, "lambda.path"),
                   f"folder '{folder}' does not exist (paths are relative to the definition)")
        return
    module, function = component.lambda_.handler.rsplit(".", 1)
    _check_callable(folder, module, function, join(path, "lambda.handler"), "module", errors)
    if component.routing.function:
        routing_module, routing_function = component.routing.function.split(":", 1)
        _check_callable(folder, routing_module, routing_function, routing_path,
                        "routing module", errors)


def _check_switchover(app: App, errors: Errors) -> None:
    """The switchover hook imports `module` with the project root first on sys.path (see
    deploy/switchover.load_callable), so an installed module is found too."""
    spec = app.deployment.switchover
    if spec is None:
        return
    module, function = spec.split(":", 1)
    if module_file(app.root, module) is None and _installed(module):
        return
    _check_callable(app.root, module, function, "deployment.switchover", "module", errors)


def _installed(module: str) -> bool:
    """Whether top-level package of `module` is importable outside the project (no import)."""
    top = module.split(".", 1)[0]
    if top in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False
