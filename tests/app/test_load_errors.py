"""Each invalid definition yields an error naming the field path and what would be valid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_complex.builder.app import load
from lambda_complex.builder.errors import DefinitionError

from .conftest import valid


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting a dotted path (list indices as numbers) in the definition."""

    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


_DELETE = object()


def _add_component(component: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["components"].append(component)


def _component(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "event_from_message",
            "lambda": {"path": "orders", "handler": "orders.handler"}, **extra}


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("missing name", _set("name", _DELETE), "name", "required field is missing"),
    ("bad app name", _set("name", "Shop_1"), "name", "lowercase letters and digits"),
    ("app name too long", _set("name", "a" * 50), "name", "too long"),
    ("unknown top field", _set("compnents", []), "compnents", "did you mean 'components'"),
    ("components not a list", _set("components", {"a": 1}), "components",
     "expected a non-empty list"),
    ("bad region", _set("deployment.region", "europe"), "deployment.region", "AWS region"),
    ("bad registry", _set("deployment.registry", "http://x y"), "deployment.registry",
     "'ecr' or a registry host"),
    ("bad switchover", _set("deployment.switchover", "deploy.switch"),
     "deployment.switchover", "'module:function'"),
    ("tag key reserved", _set("deployment.tags", {"aws:x": "1"}), "deployment.tags.aws:x",
     "may not start with 'aws:'"),
    ("coordinator concurrency zero", _set("coordinator.concurrency", 0),
     "coordinator.concurrency", "between 1 and 10"),
    ("coordinator timeout below interval", _set("coordinator.timeout", 5),
     "coordinator.timeout", "must exceed min_interval"),
    ("role undefined", _set("components.1.lambda.role", "admin"), "components[1].lambda.role",
     "role 'admin' is not defined"),
    ("bad iam action", _set("roles.0.statements.0.action", ["PutObject"]),
     "roles[0].statements[0].action[0]", "not an IAM action"),
    ("bad effect", _set("roles.0.statements.0.effect", "Maybe"),
     "roles[0].statements[0].effect", "not one of: Allow, Deny"),
    ("unknown routing target", _set("components.0.routing", ["bill", "rendr"]),
     "components[0].routing", "unknown component 'rendr'"),
    ("routing to coordinator", _set("components.1.routing", "coordinator"),
     "components[1].routing", "framework's own function"),
    ("routing to invoker", _set("components.1.routing", "invoker"),
     "components[1].routing", "framework's own function"),
    ("routing wrong type", _set("components.1.routing", 42), "components[1].routing",
     "expected a component name"),
    ("routing function module missing", _set("components.2.routing", "nowhere:pick"),
     "components[2].routing", "routing module 'nowhere' not found"),
    ("queue_wait_time too long", _set("components.0.queue_wait_time", 21),
     "components[0].queue_wait_time", "between 0 and 20"),
    ("batch_size too big", _set("components.0.batch_size", 11), "components[0].batch_size",
     "between 1 and 10"),
    ("batch_size not int", _set("components.0.batch_size", "ten"), "components[0].batch_size",
     "expected an integer"),
    ("memory too small", _set("components.0.lambda.memory", 64),
     "components[0].lambda.memory", "between 128 and 10240"),
    ("timeout too long", _set("components.0.lambda.timeout", 901),
     "components[0].lambda.timeout", "between 1 and 900"),
    ("visibility shorter than timeout", _set("components.1.visibility_timeout", 10),
     "components[1].visibility_timeout", "shorter than lambda.timeout"),
    ("max_concurrency zero", _set("components.0.max_concurrency", 0),
     "components[0].max_concurrency", "between 1 and 1000"),
    ("handler syntax", _set("components.0.lambda.handler", "orders"),
     "components[0].lambda.handler", "'module.function'"),
    ("handler module missing", _set("components.0.lambda.handler", "missing.handler"),
     "components[0].lambda.handler", "module 'missing' not found"),
    ("lambda path absent", _set("components.0.lambda.path", _DELETE),
     "components[0].lambda.path", "required field is missing"),
    ("path missing", _set("components.0.lambda.path", "nope"), "components[0].lambda.path",
     "does not exist"),
    ("duplicate component", _add_component(_component("bill")), "components[3].name",
     "duplicate component name 'bill'"),
    ("logical id collision case", _add_component(_component("Bill")), "components[3].name",
     "collides with 'bill'"),
    ("logical id collision hyphen", lambda d: (d["components"].append(_component("a-b")),
                                               d["components"].append(_component("ab"))),
     "components[4].name", "collides with 'a-b'"),
    ("reserved component name", _add_component(_component("coordinator")),
     "components[3].name", "reserved"),
    ("component name syntax", _add_component(_component("my_comp")), "components[3].name",
     "words joined by single hyphens"),
    ("component name too long", _add_component(_component("c" * 60)), "components[3].name",
     "too long"),
    ("message field on invocation component", _set("components.2.batch_size", 5),
     "components[2].batch_size", "applies only to event_from_message"),
    ("unknown component type", _set("components.0.type", "event_from_cron"),
     "components[0].type", "not one of: event_from_message, event_from_invocation"),
    ("bad architecture", _set("components.0.lambda.architecture", "arm"),
     "components[0].lambda.architecture", "x86_64, arm64"),
    ("unknown lambda field", _set("components.0.lambda.tmeout", 3),
     "components[0].lambda.tmeout", "did you mean 'timeout'"),
    ("reserved env var", _set("components.0.lambda.environment", {"AWS_REGION": "x"}),
     "components[0].lambda.environment.AWS_REGION", "reserved by Lambda"),
    ("access key in env", _set("components.0.lambda.environment",
                               {"KEY": "AKIAABCDEFGHIJKLMNOP"}),
     "components[0].lambda.environment.KEY", "looks like an AWS access key"),
    ("secret field", _set("deployment.aws_secret_access_key", "abc"),
     "deployment.aws_secret_access_key", "credentials do not belong"),
    ("component not a mapping", _set("components.1", "bill"), "components[1]",
     "expected a mapping"),
    ("duplicate role", lambda d: d["roles"].append({"name": "default", "statements": []}),
     "roles[1].name", "duplicate role name"),
]


@pytest.mark.parametrize(("fault", "mutate", "path", "fragment"), CASES,
                         ids=[c[0] for c in CASES])
def test_invalid_definition_names_the_field(
    write_definition: Callable[[Any], Path],
    fault: str,
    mutate: Callable[[dict[str, Any]], None],
    path: str,
    fragment: str,
) -> None:
    data = valid()
    mutate(data)
    with pytest.raises(DefinitionError) as caught:
        load.load(write_definition(data))
    messages = [str(e) for e in caught.value.errors]
    assert any(m.startswith(f"{path}: ") and fragment in m for m in messages), messages


def test_all_errors_are_reported_at_once(write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["components"][0]["batch_size"] = 0
    data["components"][1]["routing"] = "nobody"
    data["deployment"]["region"] = "x"
    with pytest.raises(DefinitionError) as caught:
        load.load(write_definition(data))
    paths = {e.path for e in caught.value.errors}
    assert {"components[0].batch_size", "deployment.region"} <= paths
    # Cross-field checks run only once every field has a valid type and range.


def test_yaml_syntax_and_duplicate_keys(write_definition: Callable[[Any], Path]) -> None:
    with pytest.raises(DefinitionError, match="not valid YAML"):
        load.load(write_definition("name: [unclosed\n"))
    with pytest.raises(DefinitionError, match="duplicate key 'name'"):
        load.load(write_definition("name: a\nname: b\n"))


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="lcbuild init"):
        load.load(tmp_path / "nope.yaml")
