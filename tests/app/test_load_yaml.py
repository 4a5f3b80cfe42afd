"""The YAML layer: alias bombs refused fast, numbers in string fields kept as written."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambda_complex.builder.app import load, yaml_text
from lambda_complex.builder.app.credentials import find_credentials
from lambda_complex.builder.errors import DefinitionError

from .conftest import valid

LOL = '["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'
# Nine levels of nine aliases: 9**9 (387 million) strings once expanded, from 342 bytes.
BOMB = f"a: &a {LOL}\n" + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
# The same through merge keys, which PyYAML copies into every mapping that merges them.
MERGE_BOMB = "a: &a {x1: 1, x2: 2, x3: 3, x4: 4}\n" + "".join(
    f"{c}: &{c} {{<<: [{', '.join(['*' + p] * 4)}], {c}: 1}}\n"
    for p, c in zip("abcdefghijklmnop", "bcdefghijklmnopq", strict=True)
)
TIME_BOUND_S = 2.0


def _refused(text: str, tmp_path: Path) -> str:
    with pytest.raises(DefinitionError) as caught:
        load.load_text(text, tmp_path / "lambda-complex.yaml")
    [error] = caught.value.errors
    return str(error)


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    assert len(BOMB) < 400
    message = _refused(BOMB, tmp_path)
    assert "aliases expand the document to more than 100,000 values" in message, message
    assert "line" in message


def test_merge_key_bomb_is_refused(tmp_path: Path) -> None:
    assert "more than 100,000 values" in _refused(MERGE_BOMB, tmp_path)


@pytest.mark.timing
@pytest.mark.parametrize("text", [BOMB, MERGE_BOMB], ids=["aliases", "merge-keys"])
def test_bombs_are_refused_in_under_two_seconds(text: str, tmp_path: Path) -> None:
    """Refused before expanding: a bomb costs its loader no more than a small file does."""
    start = time.perf_counter()
    _refused(text, tmp_path)
    assert time.perf_counter() - start < TIME_BOUND_S


def test_too_many_aliases_and_recursive_aliases_are_refused(tmp_path: Path) -> None:
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * (yaml_text.MAX_ALIASES + 1)) + "]\n"
    assert f"more than {yaml_text.MAX_ALIASES} aliases" in _refused(many, tmp_path)
    assert "recursive structure" in _refused("a: &a [1, *a]\n", tmp_path)


def test_validate_command_refuses_the_bomb_with_one_sentence(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    result = subprocess.run(
        [sys.executable, "-m", "lambda_complex.builder.cli", "validate", "--app", str(bomb)],
        capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "alias bomb" in result.stderr


def _shared_leaf(levels: int) -> Any:
    """One credential-like leaf reached by 2**levels paths."""
    shared: Any = ["AKIAABCDEFGHIJKLMNOP"]
    for _ in range(levels):
        shared = [shared, shared]
    return {"x": shared}


def test_credentials_scan_visits_shared_values_once() -> None:
    # 2**16 paths: a scan that followed each would report the leaf 65,536 times.
    found = list(find_credentials(_shared_leaf(16)))
    assert [path for path, _ in found] == ["x" + "[0]" * 17]


@pytest.mark.timing
def test_credentials_scan_of_two_to_the_sixty_paths_ends_in_under_two_seconds() -> None:
    start = time.perf_counter()
    found = list(find_credentials(_shared_leaf(60)))
    assert time.perf_counter() - start < TIME_BOUND_S
    assert len(found) == 1


def test_merge_key_with_override_loads(write_definition: Callable[[Any], Path]) -> None:
    text = """
name: shop
components:
  - name: orders
    type: event_from_message
    lambda: &base {path: orders, handler: orders.handler, timeout: 30}
  - name: bill
    type: event_from_message
    lambda: {<<: *base, path: bill, handler: bill.handler, timeout: 40}
"""
    app = load.load(write_definition(text))
    bill = app.component("bill").lambda_
    assert (bill.path.name, bill.handler, bill.timeout) == ("bill", "bill.handler", 40)
    # A key the mapping itself writes twice is still an error.
    with pytest.raises(DefinitionError, match="duplicate key 'timeout'"):
        load.load(write_definition(text.replace("timeout: 40", "timeout: 40, timeout: 41")))


@pytest.mark.parametrize(("written", "kept"), [
    ("1.10", "1.10"), ("0777", "0777"), ("1e3", "1e3"), ("1_000", "1_000"), ("0x1F", "0x1F"),
    ("12", "12"), ('"0777"', "0777"),
])
def test_numbers_in_string_fields_keep_their_text(
    write_definition: Callable[[Any], Path], written: str, kept: str,
) -> None:
    text = f"""
name: shop
version: {written}
deployment: {{tags: {{release: {written}}}}}
components:
  - name: orders
    type: event_from_message
    lambda:
      path: orders
      handler: orders.handler
      environment: {{MODE: {written}, {written}X: plain}}
"""
    app = load.load(write_definition(text.replace(f"{written}X", "OTHER")))
    assert app.version == kept
    assert app.deployment.tags == {"release": kept}
    assert app.component("orders").lambda_.environment == {"MODE": kept, "OTHER": "plain"}


def test_integers_stay_plain_integers(write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["components"][0]["lambda"]["timeout"] = 30
    app = load.load(write_definition(data))
    assert type(app.component("orders").lambda_.timeout) is int
    assert type(app.max_hops) is int


@pytest.mark.parametrize("written", ["yes", "off", "~", "2024-01-01"])
def test_values_yaml_does_not_read_as_strings_are_refused_with_quote_it(
    write_definition: Callable[[Any], Path], written: str,
) -> None:
    data = valid()
    data["version"] = "VERSION"
    data["components"][0]["lambda"]["environment"] = {"MODE": "MODEVALUE"}
    text = yaml.safe_dump(data).replace("VERSION", written).replace("MODEVALUE", written)
    with pytest.raises(DefinitionError) as caught:
        load.load(write_definition(text))
    messages = {e.path: e.message for e in caught.value.errors}
    assert "quote it" in messages["version"]
    assert "quote it" in messages["components[0].lambda.environment.MODE"]


def test_condition_numbers_keep_their_text(write_definition: Callable[[Any], Path]) -> None:
    text = yaml.safe_dump(valid()).replace(
        "effect: Allow",
        "effect: Allow\n    condition: {StringEquals: {'aws:SourceAccount': 0777}}")
    app = load.load(write_definition(text))
    condition = app.role("default").statements[0].condition
    assert condition == {"StringEquals": {"aws:SourceAccount": "0777"}}
