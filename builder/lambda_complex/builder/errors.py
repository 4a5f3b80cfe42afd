"""Errors the user can act on. The CLI prints them without a traceback and exits 1."""

from __future__ import annotations

from dataclasses import dataclass


class UserError(Exception):
    """Something the user must fix (input, environment); its message says what and where."""


@dataclass(frozen=True)
class FieldError:
    path: str  # e.g. components[2].routing
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DefinitionError(UserError):
    """The application definition is invalid; carries every error found, not just the first."""

    def __init__(self, source: str, errors: list[FieldError]) -> None:
        self.source = source
        self.errors = errors
        super().__init__("\n".join(f"{source}: {e}" for e in errors))
