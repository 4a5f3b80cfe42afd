"""Load `lambda-complex.yaml` into an `App`, or raise `DefinitionError` listing every problem.

Three passes: parse the YAML (yaml_text: syntax, duplicate keys, alias limits, numbers kept as
written), read each field into the typed model (types, ranges, syntax, ARNs), then check the
whole (checks: references, collisions, name lengths, files and the functions named in them).
Nothing but `DefinitionError` escapes, whatever the input.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from lambda_complex.builder.app import arns, checks
from lambda_complex.builder.app.credentials import find_credentials
from lambda_complex.builder.app.fields import Errors, Reader, join
from lambda_complex.builder.app.model import (
    App,
    Architecture,
    Component,
    ComponentType,
    CoordinatorConfig,
    Deployment,
    LambdaSettings,
    Role,
    Routing,
    Statement,
)
from lambda_complex.builder.app.yaml_text import parse_yaml, plain
from lambda_complex.builder.errors import DefinitionError, FieldError
from lambda_complex.runtime import config as runtime_config
from lambda_complex.runtime import names

DEFAULT_FILE = "lambda-complex.yaml"

APP_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
APP_NAME_RULE = "lowercase letters and digits in words joined by single hyphens, e.g. 'sitegen'"
COMPONENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*")
COMPONENT_NAME_RULE = "letters and digits in words joined by single hyphens, e.g. 'render-page'"
ROLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
HANDLER = re.compile(rf"{IDENT}(\.{IDENT})+")
HANDLER_RULE = "'module.function', e.g. 'ingest.handler'"
CALLABLE = re.compile(rf"{IDENT}(\.{IDENT})*:{IDENT}")
CALLABLE_RULE = "'module:function', e.g. 'routes:route'"
REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d")
REGION_RULE = "an AWS region such as 'eu-west-1'"
REGISTRY = re.compile(r"ecr|[A-Za-z0-9.-]+(:\d{1,5})?(/[a-z0-9._/-]+)?")
REGISTRY_RULE = "'ecr' or a registry host[:port], e.g. '127.0.0.1:5000'"
ACTION = re.compile(r"[a-z0-9-]+:[A-Za-z0-9*?]+|\*")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SYSTEM_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
# Lambda sets these itself and refuses them in a function's environment.
RESERVED_ENV = re.compile(r"AWS_.*|_HANDLER|_X_AMZN_TRACE_ID|LAMBDA_TASK_ROOT|LAMBDA_RUNTIME_DIR")
ENV_SIZE_MAX = 4096  # Lambda's limit on a function's environment variables, in bytes

TOP_FIELDS = ("name", "version", "deployment", "coordinator", "roles", "components", "max_hops")
DEPLOYMENT_FIELDS = ("region", "registry", "tags", "switchover")
COORDINATOR_FIELDS = tuple(f.name for f in dataclasses.fields(CoordinatorConfig))
ROLE_FIELDS = ("name", "statements")
STATEMENT_FIELDS = ("effect", "action", "resource", "condition")
COMPONENT_FIELDS = ("name", "type", "max_concurrency", "queue_wait_time", "batch_size",
                    "max_receive_count", "visibility_timeout", "dispatch", "batching_window",
                    "routing", "lambda", "renamed_from")
MESSAGE_ONLY_FIELDS = ("queue_wait_time", "batch_size", "max_receive_count", "visibility_timeout",
                       "dispatch", "batching_window")
# An event source mapping's MaximumBatchingWindowInSeconds is 0..300 and its
# ScalingConfig.MaximumConcurrency 2..1000
# (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html,
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). A mapping's batch size
# above 10 needs a window of at least 1 s; batch_size stays at most 10 (one ReceiveMessage, as the
# queue loop takes), so that rule cannot arise.
BATCHING_WINDOW_MAX = 300
NATIVE_MIN_CONCURRENCY = 2
ROUTING_FIELDS = ("function", "targets")
LAMBDA_FIELDS = ("path", "handler", "memory", "timeout", "role", "architecture", "environment",
                 "build_packages")


def load(path: str | Path = DEFAULT_FILE) -> App:
    """Read and validate the definition at `path`."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        problem = FieldError("", "file not found; pass --app FILE or run `lcbuild init DIR`")
        raise DefinitionError(str(source), [problem]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DefinitionError(str(source), [FieldError("", f"cannot read: {e}")]) from None
    return load_text(text, source.resolve())


def load_text(text: str, source: Path) -> App:
    """Validate definition `text` whose relative paths are relative to `source`'s folder."""
    data = parse_yaml(text, str(source))
    errors = Errors()
    for path, reason in find_credentials(data):
        errors.add(path, reason)
    app = _read_app(data, source, errors)
    if app is not None and not errors:
        checks.check_app(app, errors, _routing_fields(data))
    if errors or app is None:
        raise DefinitionError(str(source), errors.items or [FieldError("", "invalid definition")])
    return app


def _routing_fields(data: Any) -> list[str]:
    """Per component, the field naming its routing function: `routing` or `routing.function`."""
    items = data.get("components") if isinstance(data, dict) else None
    return ["routing.function" if isinstance(c, dict) and isinstance(c.get("routing"), dict)
            else "routing" for c in (items if isinstance(items, list) else [])]


def _read_app(data: Any, source: Path, errors: Errors) -> App | None:
    top = Reader.of(data, "", errors, TOP_FIELDS)
    if top is None:
        return None
    name = top.string("name", pattern=APP_NAME, rule=APP_NAME_RULE)
    version = top.string("version", "0.0.0", pattern=re.compile(r"[A-Za-z0-9._+-]{1,64}"),
                         rule="letters, digits and . _ + - (at most 64)")
    components_raw = top.raw("components")
    components: list[Component] = []
    if isinstance(components_raw, list) and components_raw:
        for index, item in enumerate(components_raw):
            component = _read_component(item, join("components", index), source.parent, errors)
            if component is not None:
                components.append(component)
    elif components_raw is not None:
        errors.add("components", "expected a non-empty list of components; "
                                 f"got {components_raw!r:.60}")
    roles = _read_roles(top.raw("roles", []), errors)
    return App(
        name=name or "",
        version=version,
        source=source,
        deployment=_read_deployment(top.raw("deployment", {}), errors),
        coordinator=_read_coordinator(top.raw("coordinator", {}), errors),
        roles=roles,
        components=tuple(components),
        max_hops=top.integer("max_hops", 32, 1, 1000),
    )


def _read_deployment(value: Any, errors: Errors) -> Deployment:
    r = Reader.of(value or {}, "deployment", errors, DEPLOYMENT_FIELDS)
    if r is None:
        return Deployment()
    tags = r.string_map("tags")
    for key, tag in tags.items():
        if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
            errors.add(join("deployment.tags", key), "tag keys are 1-128 characters and may "
                                                     "not start with 'aws:'")
        if len(tag) > 256:
            errors.add(join("deployment.tags", key), "tag values are at most 256 characters")
    if len(tags) > 50:
        errors.add("deployment.tags", f"{len(tags)} tags; AWS allows at most 50 per resource")
    return Deployment(
        region=r.string("region", "eu-west-1", pattern=REGION, rule=REGION_RULE),
        registry=r.string("registry", "ecr", pattern=REGISTRY, rule=REGISTRY_RULE),
        tags=tags,
        switchover=r.string("switchover", None, pattern=CALLABLE, rule=CALLABLE_RULE),
    )


def _read_coordinator(value: Any, errors: Errors) -> CoordinatorConfig:
    """Every setting is an integer within the range CoordinatorConfig gives it."""
    r = Reader.of(value or {}, "coordinator", errors, COORDINATOR_FIELDS)
    if r is None:
        return CoordinatorConfig()
    settings: dict[str, int] = {}
    for setting in dataclasses.fields(CoordinatorConfig):
        low, high = setting.metadata["range"]
        settings[setting.name] = r.integer(setting.name, setting.default, low, high)
    return CoordinatorConfig(**settings)


def _read_roles(value: Any, errors: Errors) -> tuple[Role, ...]:
    if not isinstance(value, list):
        errors.add("roles", f"expected a list of roles; got {value!r:.60}")
        return ()
    roles: list[Role] = []
    for index, item in enumerate(value):
        path = join("roles", index)
        r = Reader.of(item, path, errors, ROLE_FIELDS)
        if r is None:
            continue
        name = r.string("name", pattern=ROLE_NAME, rule="letters, digits, '_' and '-'")
        raw_statements = r.raw("statements", [])
        statements: list[Statement] = []
        if not isinstance(raw_statements, list):
            errors.add(r.at("statements"), "expected a list of IAM statements")
            raw_statements = []
        for s_index, raw in enumerate(raw_statements):
            s = Reader.of(raw, join(r.at("statements"), s_index), errors, STATEMENT_FIELDS)
            if s is None:
                continue
            actions = s.string_list("action")
            for a_index, action in enumerate(actions or ()):
                if not ACTION.fullmatch(action):
                    errors.add(join(s.at("action"), a_index),
                               f"'{action}' is not an IAM action such as 's3:PutObject'")
            condition = s.raw("condition", None)
            if condition is not None and not isinstance(condition, dict):
                errors.add(s.at("condition"), "expected an IAM condition mapping")
                condition = None
            resources = s.string_list("resource") or ()
            for problem_path, problem in arns.resource_problems(s.at("resource"), s.raw(
                    "resource", None), resources):
                errors.add(problem_path, problem)
            statements.append(Statement(
                effect=s.choice("effect", "Allow", ("Allow", "Deny")),
                actions=actions or (),
                resources=resources,
                condition=plain(condition),
            ))
        roles.append(Role(name=name or "", statements=tuple(statements)))
    return tuple(roles)


def _read_routing(value: Any, path: str, errors: Errors) -> Routing:
    if value is None:
        return Routing()
    if isinstance(value, dict):  # {function: module:function, targets: [...]}
        r = Reader.of(value, path, errors, ROUTING_FIELDS)
        if r is None:
            return Routing()
        function = r.string("function", pattern=CALLABLE, rule=CALLABLE_RULE)
        targets = r.string_list("targets", ())
        if len(set(targets)) != len(targets):
            errors.add(r.at("targets"), "lists a component more than once")
        return Routing(components=tuple(targets), function=function)
    if isinstance(value, str) and ":" in value:
        if not CALLABLE.fullmatch(value):
            errors.add(path, f"'{value}' is not valid: {CALLABLE_RULE}")
        return Routing(function=value)
    if isinstance(value, str):
        return Routing(components=(value,))
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        if len(set(value)) != len(value):
            errors.add(path, "lists a component more than once")
        return Routing(components=tuple(value))
    errors.add(path, "expected a component name, a non-empty list of names, "
                     f"{CALLABLE_RULE}, or {{function: ..., targets: [...]}}; got {value!r:.60}")
    return Routing()


def _read_lambda(value: Any, path: str, base: Path, errors: Errors) -> LambdaSettings | None:
    r = Reader.of(value, path, errors, LAMBDA_FIELDS)
    if r is None:
        return None
    raw_path = r.string("path")
    environment = r.string_map("environment")
    for key in environment:
        if not ENV_NAME.fullmatch(key):
            errors.add(join(r.at("environment"), key), "not a valid environment variable name")
        elif RESERVED_ENV.fullmatch(key):
            errors.add(join(r.at("environment"), key), "reserved by Lambda; choose another name")
    if sum(len(k) + len(v) for k, v in environment.items()) > ENV_SIZE_MAX:
        errors.add(r.at("environment"), f"larger than Lambda's {ENV_SIZE_MAX} bytes")
    packages = r.raw("build_packages", [])
    if not isinstance(packages, list) or not all(
        isinstance(p, str) and SYSTEM_PACKAGE.fullmatch(p) for p in packages
    ):
        errors.add(r.at("build_packages"), "expected a list of system package names")
        packages = []
    return LambdaSettings(
        path=(base / raw_path).resolve() if raw_path else base,
        handler=r.string("handler", pattern=HANDLER, rule=HANDLER_RULE),
        memory=r.integer("memory", 256, 128, 10240),
        timeout=r.integer("timeout", 60, 1, 900),
        role=r.string("role", None),
        architecture=Architecture(r.choice("architecture", "x86_64", ("x86_64", "arm64"))
                                  or "x86_64"),
        environment=environment,
        build_packages=tuple(packages),
    )


def _read_component(value: Any, path: str, base: Path, errors: Errors) -> Component | None:
    r = Reader.of(value, path, errors, COMPONENT_FIELDS)
    if r is None:
        return None
    name = r.string("name", pattern=COMPONENT_NAME, rule=COMPONENT_NAME_RULE)
    if name in names.RESERVED_COMPONENT_NAMES:
        errors.add(r.at("name"), f"'{name}' is reserved for the framework's own function; "
                                 "choose another name")
    kind = r.choice("type", None, [t.value for t in ComponentType])
    lambda_ = _read_lambda(r.raw("lambda"), r.at("lambda"), base, errors)
    if kind is None or lambda_ is None:
        return None
    ctype = ComponentType(kind)
    if ctype is ComponentType.EVENT_FROM_INVOCATION:
        for field_name in MESSAGE_ONLY_FIELDS:
            if r.has(field_name):
                errors.add(r.at(field_name), "applies only to event_from_message components "
                                             "(this one is event_from_invocation)")
    timeout = lambda_.timeout if isinstance(lambda_.timeout, int) else 60
    max_concurrency = r.integer("max_concurrency", 1, 1, 1000)
    dispatch = r.choice("dispatch", runtime_config.PUSH, runtime_config.DISPATCH_KINDS)
    if ctype is ComponentType.EVENT_FROM_MESSAGE:
        _check_native(r, name or "", dispatch, max_concurrency)
    return Component(
        name=name or "",
        type=ctype,
        lambda_=lambda_,
        max_concurrency=max_concurrency,
        routing=_read_routing(r.raw("routing", None), r.at("routing"), errors),
        queue_wait_time=r.integer("queue_wait_time", 0, 0, 20),
        batch_size=r.integer("batch_size", 1, 1, 10),
        max_receive_count=r.integer("max_receive_count", 3, 1, 1000),
        # SQS's maximum is 12 hours; checks.py holds it to at least the function timeout.
        visibility_timeout=r.integer("visibility_timeout", timeout + 30, 0, 43200),
        dispatch=dispatch,
        batching_window=r.integer("batching_window", 0, 0, BATCHING_WINDOW_MAX),
        renamed_from=_read_renamed_from(r),
    )


def _check_native(r: Reader, name: str, dispatch: str | None, max_concurrency: int) -> None:
    """`dispatch: native` needs a limit the mapping's MaximumConcurrency can hold (2 or more);
    `batching_window` is a setting of that mapping only."""
    native = dispatch == runtime_config.NATIVE
    if native and max_concurrency in range(1, NATIVE_MIN_CONCURRENCY):  # 0: out of range
        r.errors.add(r.at("max_concurrency"),
                     f"component '{name}': dispatch: native cannot hold max_concurrency "
                     f"{max_concurrency}, since its event source mapping's ScalingConfig."
                     f"MaximumConcurrency is {NATIVE_MIN_CONCURRENCY}..1000; a limit of "
                     f"{max_concurrency} needs dispatch: push or coordinator")
    if r.has("batching_window") and dispatch is not None and not native:
        r.errors.add(r.at("batching_window"),
                     f"component '{name}': applies only to dispatch: native (the event source "
                     f"mapping's batching window); this component's dispatch is {dispatch}")


def _read_renamed_from(r: Reader) -> tuple[str, ...]:
    """`renamed_from: old` or a list of earlier names, each a valid component name."""
    if not r.has("renamed_from"):
        return ()
    earlier: tuple[str, ...] = r.string_list("renamed_from", ())
    for index, old in enumerate(earlier):
        if not COMPONENT_NAME.fullmatch(old):
            errors_path = join(r.at("renamed_from"), index)
            r.errors.add(errors_path, f"'{old}' is not valid: {COMPONENT_NAME_RULE}")
    return earlier
