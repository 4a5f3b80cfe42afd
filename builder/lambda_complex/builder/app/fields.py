"""Typed reads from untrusted YAML data that record an error (with its field path) instead of
raising, so one pass reports every problem in the definition at once."""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from lambda_complex.builder.app.yaml_text import source_text
from lambda_complex.builder.errors import FieldError

T = TypeVar("T")
MISSING: Any = object()


def join(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


_TYPE_NAMES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
    (Mapping, "a mapping"), (list, "a list"), (datetime.date, "a date"),
)


def type_name(value: object) -> str:
    if value is None:
        return "nothing (null)"
    for kind, name in _TYPE_NAMES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _not_a_string(value: object) -> str:
    """Why a scalar YAML did not read as a string (`yes`, `~`, `2024-01-01`) is not one."""
    got = f"expected a string; got {type_name(value)}"
    if isinstance(value, bool | datetime.date) or value is None:
        return f"{got}; quote it if a string is meant"
    return got


def _is_text(value: object) -> bool:
    """A string, or a plain number whose source text stands for the string (see yaml_text)."""
    return not isinstance(value, bool) and isinstance(value, str | int | float)


class Errors:
    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(FieldError(path, message))

    def __bool__(self) -> bool:
        return bool(self.items)


class Reader:
    """Reads fields of one mapping at `path`, reporting problems to `errors`."""

    def __init__(self, data: Mapping[str, Any], path: str, errors: Errors) -> None:
        self.data = data
        self.path = path
        self.errors = errors

    @classmethod
    def of(
        cls, value: object, path: str, errors: Errors, allowed: Sequence[str]
    ) -> Reader | None:
        """A reader for `value` if it is a mapping; unknown keys are reported with a suggestion."""
        if not isinstance(value, Mapping):
            errors.add(path, f"expected a mapping with fields {', '.join(allowed)}; "
                             f"got {type_name(value)}")
            return None
        for key in value:
            if not isinstance(key, str):
                errors.add(path, f"field names must be strings; got {key!r}")
            elif key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                errors.add(join(path, key),
                           f"unknown field{hint}; valid fields: {', '.join(allowed)}")
        return cls(value, path, errors)

    def at(self, key: str) -> str:
        return join(self.path, key)

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = MISSING) -> Any:
        """The value at `key`; when absent, `default`, or None and an error if it is required."""
        if key not in self.data:
            if default is MISSING:
                self.errors.add(self.at(key), "required field is missing")
                return None
            return default
        return self.data[key]

    def string(
        self,
        key: str,
        default: Any = MISSING,
        pattern: re.Pattern[str] | None = None,
        rule: str = "",
        max_length: int | None = None,
    ) -> Any:
        if key not in self.data:
            return self.raw(key, default)
        value = self.data[key]
        if not _is_text(value):
            self.errors.add(self.at(key), _not_a_string(value))
            return None if default is MISSING else default
        text = source_text(value)
        if pattern is not None and not pattern.fullmatch(text):
            self.errors.add(self.at(key), f"'{text}' is not valid: {rule}")
        elif max_length is not None and len(text) > max_length:
            self.errors.add(self.at(key), f"'{text}' is {len(text)} characters; "
                                          f"at most {max_length} allowed")
        return text

    def integer(self, key: str, default: Any, low: int, high: int | None = None) -> Any:
        if key not in self.data:
            return self.raw(key, default)
        value = self.data[key]
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors.add(self.at(key), f"expected an integer {bounds}; got {type_name(value)}"
                                          f" {value!r}")
            return low if default is MISSING else default
        if value < low or (high is not None and value > high):
            self.errors.add(self.at(key), f"{value} is out of range: must be {bounds}")
        return int(value)

    def choice(self, key: str, default: Any, choices: Sequence[str]) -> Any:
        if key not in self.data:
            return self.raw(key, default)
        value = self.data[key]
        if value not in choices:
            self.errors.add(self.at(key), f"{value!r} is not one of: {', '.join(choices)}")
            return None if default is MISSING else default
        return value

    def string_list(self, key: str, default: Any = MISSING) -> Any:
        """A string or a list of strings, returned as a tuple."""
        if key not in self.data:
            return self.raw(key, default)
        value = self.data[key]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            self.errors.add(self.at(key), "expected a string or a non-empty list of strings; "
                                          f"got {type_name(value)}")
            return ()
        return tuple(items)

    def string_map(self, key: str) -> dict[str, str]:
        value = self.raw(key, {})
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.errors.add(self.at(key), f"expected a mapping of names to strings; "
                                          f"got {type_name(value)}")
            return {}
        result: dict[str, str] = {}
        for k, v in value.items():
            if not _is_text(v):
                self.errors.add(join(self.at(key), source_text(k)), _not_a_string(v))
            else:
                result[source_text(k)] = source_text(v)
        return result
