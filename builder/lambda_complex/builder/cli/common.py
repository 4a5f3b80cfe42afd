"""What every `lcbuild` command shares: the `--app`, `--local` and `--mode` options and turning
user errors into one clear message and exit code 1 (usage errors are click's: exit 2). No
traceback for user errors, nor for the AWS failures a user fixes outside the tool (credentials,
endpoint, permissions)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from lambda_complex.builder import api
from lambda_complex.builder.cli import aws_errors
from lambda_complex.builder.errors import DefinitionError, UserError

F = TypeVar("F", bound=Callable[..., Any])

app_option = click.option(
    "--app",
    "app_file",
    default=api.DEFAULT_FILE,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LCBUILD_APP",
    help="The application definition.",
)

local_option = click.option(
    "--local", is_flag=True,
    help="Talk to the application running under `lcbuild local run` instead of AWS.")


def mode_option(what: str) -> Callable[[F], F]:
    """`--mode container|process`; `what`: what container mode runs."""
    return click.option(
        "--mode", type=click.Choice(api.MODES), default=None,
        help=f"container: {what}; process: worker processes from the sources. Default: "
             "container when Docker answers and .lcbuild/images.json exists.")


def report_user_errors(func: F) -> F:
    """Print a UserError, or a botocore failure (`aws_errors`), as `error: ...` on stderr and
    exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DefinitionError as e:
            for line in str(e).splitlines():
                click.echo(line, err=True)
            click.echo(f"{len(e.errors)} error(s) in {e.source}", err=True)
            sys.exit(1)
        except UserError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except Exception as e:
            sentence = aws_errors.describe(e, local=bool(kwargs.get("local")))
            if sentence is None:
                raise
            click.echo(f"error: {sentence}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]

