"""The coordinator settings: one definition (the runtime's CoordinatorConfig) gives the loader its
fields, defaults and ranges, the templates their memory and timeout, the images the rest."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambda_complex.builder.app import compile as app_compile
from lambda_complex.builder.app import load
from lambda_complex.builder.errors import DefinitionError
from lambda_complex.runtime import config
from lambda_complex.runtime.config import CoordinatorConfig
from tests.app.conftest import valid

SETTINGS = dataclasses.fields(CoordinatorConfig)


def test_defaults_come_from_the_runtime_type(write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    del data["coordinator"]
    app = load.load(write_definition(data))
    assert app.coordinator == CoordinatorConfig()
    assert (app.coordinator.memory, app.coordinator.timeout) == (256, 300)


def test_every_setting_is_read_into_the_runtime_type(
        write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["coordinator"] = {"concurrency": 3, "max_api_concurrency": 7, "max_invocations": 50,
                           "min_interval": 20, "idle_after": 120, "entry_watch": 2, "memory": 512,
                           "timeout": 600}
    app = load.load(write_definition(data))
    assert dataclasses.asdict(app.coordinator) == data["coordinator"]
    # The images carry the settings the runtime reads, unchanged through the compile step.
    baked = json.loads(app_compile.for_component(app, "orders").to_json())["coordinator"]
    assert baked == {"concurrency": 3, "max_api_concurrency": 7, "max_invocations": 50,
                     "min_interval": 20, "idle_after": 120, "entry_watch": 2}
    assert config.RuntimeConfig.from_dict(json.loads(
        app_compile.for_coordinator(app).to_json())).coordinator.min_interval == 20


def test_resizing_the_coordinator_changes_no_image_config(
        write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    before = app_compile.for_component(load.load(write_definition(data)), "orders").to_json()
    data["coordinator"].update(memory=1024, timeout=900)
    after = app_compile.for_component(load.load(write_definition(data)), "orders").to_json()
    assert before == after


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_each_range_is_enforced_with_the_field_named(
        setting: dataclasses.Field[int], write_definition: Callable[[Any], Path]) -> None:
    low, high = setting.metadata["range"]
    for bad in (low - 1, high + 1):
        data = valid()
        data["coordinator"] = {setting.name: bad}
        with pytest.raises(DefinitionError) as caught:
            load.load(write_definition(data))
        assert f"coordinator.{setting.name}: {bad} is out of range: must be between {low} and " \
               f"{high}" in str(caught.value)
    data = valid()
    data["coordinator"] = {setting.name: "many"}
    with pytest.raises(DefinitionError, match=f"coordinator.{setting.name}: expected an integer"):
        load.load(write_definition(data))


def test_an_unknown_setting_is_named_with_a_suggestion(
        write_definition: Callable[[Any], Path]) -> None:
    data = valid()
    data["coordinator"] = {"min_intervall": 5}
    with pytest.raises(DefinitionError, match=r"coordinator\.min_intervall: unknown field "
                                              r"\(did you mean 'min_interval'\?\)"):
        load.load(write_definition(data))
