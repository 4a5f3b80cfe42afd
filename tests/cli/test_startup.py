"""`lcbuild` starts fast: the CLI imports a command's module only when that command runs (or
`--help` lists it), and goes through the Python API, which imports boto3 and the Docker SDK only
in the functions that call AWS or Docker, so no command's `--help` (and no command that calls
neither) pays for them. `lcbuild local invoke` talks to the engine over its socket itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lambda_complex.builder.cli import cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "docker", "requests", "troposphere", "cfnlint", "sceptre")

# Runs `lcbuild ARGS...` in a fresh interpreter and prints the heavy modules it loaded.
PROBE = f"""
import json, sys
from lambda_complex.builder.cli import cli
try:
    cli(sys.argv[1:], prog_name="lcbuild")
except SystemExit as e:
    code = e.code
commands = cli.commands.loaded()
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules],
                  "commands": commands}}))
"""


def loaded_by(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          cwd=ROOT, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def every_command() -> list[list[str]]:
    found: list[list[str]] = []
    for name, command in cli.commands.items():
        found.append([name])
        for sub in getattr(command, "commands", {}):
            found.append([name, sub])
    return found


def test_every_commands_help_loads_neither_boto3_nor_docker() -> None:
    commands = every_command()
    assert ["local", "invoke"] in commands and ["trace"] in commands  # the walk found groups
    for command in [[], *commands]:
        probe = loaded_by(*command, "--help")
        assert (probe["code"], probe["loaded"]) == (0, []), command


def test_validate_loads_neither_boto3_nor_docker() -> None:
    assert loaded_by("validate", "--json") == {"code": 0, "loaded": [], "commands": ["validate"]}


def test_help_lists_every_command_with_its_short_help() -> None:
    done = subprocess.run([sys.executable, "-m", "lambda_complex.builder.cli", "--help"],
                          capture_output=True, text=True, cwd=ROOT, check=True, timeout=60)
    listed = done.stdout.split("Commands:", 1)[1].splitlines()
    rows = {line.split()[0]: line.split(None, 1)[1] for line in listed if line.strip()}
    assert set(rows) == set(cli.commands)
    assert rows["local"] == "Run the application on this machine."


def test_local_invoke_loads_only_its_own_command_and_no_sdk() -> None:
    """The real command, process mode, on the example: it runs the handler (exit 0), imports
    only the `local` command's module, and neither boto3, the Docker SDK nor Sceptre.
    (troposphere comes with the function specs, which compute the IAM policies too.)"""
    probe = loaded_by("local", "invoke", "toc", "--mode", "process", "--event",
                      '{"site": "s", "pages": []}', "--app", str(ROOT / "lambda-complex.yaml"))
    assert probe["code"] == 0 and probe["commands"] == ["local"]
    assert set(probe["loaded"]) <= {"troposphere"}, probe  # type: ignore[arg-type]

