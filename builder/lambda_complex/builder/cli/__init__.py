"""`lcbuild`: the command line over the Python API (`lambda_complex.builder.api`). Thin: each
command parses its options, calls `api` and prints what it returns (text, JSON, exit code); an
import-linter contract in the root pyproject keeps the CLI from reaching past the API.

One module per command, or per group of commands that share a subject, named in `COMMANDS` and
imported only when its command runs (or `--help` lists it): `lcbuild local invoke` pays for
its own module, not for every other command's."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import click

# command name -> (module under lambda_complex.builder.cli, the click command in it)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("app_commands", "validate"),
    "graph": ("app_commands", "graph"),
    "init": ("app_commands", "init"),
    "status": ("status", "status"),
    "plan": ("plan", "plan"),
    "pause": ("dispatch", "pause"),
    "resume": ("dispatch", "resume"),
    "redrive": ("redrive", "redrive"),
    "trace": ("trace", "trace"),
    "images": ("images", "images"),
    "render": ("render", "render"),
    "local": ("local", "local"),
    "doctor": ("doctor", "doctor"),
}


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's command table whose entries are imported on first lookup (`click.Group` reads
    its `commands` as a mapping: names to list, a command to run)."""

    def __init__(self, table: dict[str, tuple[str, str]]) -> None:
        self._table = dict(table)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, attribute = self._table[name]  # KeyError: no such command
            found = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
            if not isinstance(found, click.Command):
                raise TypeError(f"{module}.{attribute} is not a click command")
            self._loaded[name] = found
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command
        self._table.setdefault(name, ("", name))

    def __delitem__(self, name: str) -> None:
        del self._table[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def loaded(self) -> list[str]:
        """The commands imported so far, in table order."""
        return [name for name in self._table if name in self._loaded]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lambda-complex")
def cli() -> None:
    """Build, deploy and run queue-driven applications made of AWS Lambda functions."""


cli.commands = LazyCommands(COMMANDS)


def main() -> None:
    cli(prog_name="lcbuild")
