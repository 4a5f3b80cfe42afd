"""User errors surfaced through Sceptre: a SceptreException prints one clean line and exits 1."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from sceptre.exceptions import SceptreException

from lambda_complex.builder.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])


class LambdaComplexError(SceptreException):  # type: ignore[misc]
    pass


def as_sceptre_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserError as e:
            raise LambdaComplexError(f"lambda-complex: {e}") from e

    return wrapper  # type: ignore[return-value]
