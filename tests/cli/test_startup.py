"""`lcbuild` starts fast: the CLI goes through the Python API, which imports boto3 and the
Docker SDK only in the functions that call AWS or Docker, so no command's `--help` (and no
command that calls neither) pays for them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lambda_complex.builder.cli import cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "docker", "troposphere", "cfnlint", "sceptre")

# Runs `lcbuild ARGS...` in a fresh interpreter and prints the heavy modules it loaded.
PROBE = f"""
import json, sys
from lambda_complex.builder.cli import cli
try:
    cli(sys.argv[1:], prog_name="lcbuild")
except SystemExit as e:
    code = e.code
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
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
        assert probe == {"code": 0, "loaded": []}, command


def test_validate_loads_neither_boto3_nor_docker() -> None:
    assert loaded_by("validate", "--json") == {"code": 0, "loaded": []}

