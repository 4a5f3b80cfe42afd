"""Property tests: whatever YAML the loader gets, it returns an App or raises DefinitionError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_complex.builder.app import load
from lambda_complex.builder.errors import DefinitionError

from .conftest import VALID, write_app_tree

FIELD_NAMES = sorted({
    *load.TOP_FIELDS, *load.DEPLOYMENT_FIELDS, *load.COORDINATOR_FIELDS, *load.ROLE_FIELDS,
    *load.STATEMENT_FIELDS, *load.COMPONENT_FIELDS, *load.LAMBDA_FIELDS, *load.ROUTING_FIELDS,
})

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=20), st.sampled_from(["event_from_message", "orders", "a:b", "x.y"]),
)
# Values shaped like the schema: mappings keyed by real field names, nested and mixed.
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=8)),
                        children, max_size=6),
    ),
    max_leaves=25,
)


FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(text: str, root: Path) -> None:
    try:
        load.load_text(text, root / "lambda-complex.yaml")
    except DefinitionError as e:
        assert e.errors and all(str(err) for err in e.errors)


@FUZZ
@given(text=st.text(max_size=200))
def test_random_text_never_escapes_as_another_exception(text: str, tmp_path: Path) -> None:
    _check(text, tmp_path)


@FUZZ
@given(data=values)
def test_random_structures_never_escape(data: Any, tmp_path: Path) -> None:
    _check(yaml.safe_dump(data), tmp_path)


@FUZZ
@given(key=st.sampled_from(FIELD_NAMES), value=values, where=st.integers(0, 4))
def test_valid_definition_with_one_random_field(key: str, value: Any, where: int,
                                                 tmp_path: Path) -> None:
    """Mutating one field of a valid definition: still only DefinitionError, never a crash."""
    write_app_tree(tmp_path)
    data: dict[str, Any] = yaml.safe_load(yaml.safe_dump(VALID))
    targets: list[dict[str, Any]] = [data, data["deployment"], data["coordinator"],
                                     data["components"][0], data["components"][0]["lambda"]]
    targets[where][key] = value
    _check(yaml.safe_dump(data), tmp_path)
