"""`lcbuild` starts fast: the CLI imports a command's module only when that command runs (or
`--help` lists it), and goes through the Python API, which imports boto3 and the Docker SDK only
in the functions that call AWS or Docker, so no command's `--help` (and no command that calls
neither) pays for them. `lcbuild local invoke` talks to the engine over its socket itself, and
imports nothing of the other commands (`NOT_FOR_LOCAL_INVOKE`): each API name is imported from
its own module on first use. Absence of modules is asserted, never a duration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lambda_complex.builder.cli import cli

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("boto3", "botocore", "docker", "requests", "troposphere", "cfnlint", "sceptre")
_B = "lambda_complex.builder"
# What `lcbuild local invoke` (either mode) has no use for: the SDKs, the image builder, the
# deploy, Sceptre, the stack templates, the scaffold, the other API modules, and the testbed of
# `local run` with its emulator, pollers and schedules. (troposphere does come, with the
# function specs, which compute the IAM policies too.)
NOT_FOR_LOCAL_INVOKE = (
    *(m for m in HEAVY if m != "troposphere"),
    f"{_B}.api.artifacts", f"{_B}.api.deployment", f"{_B}.api.operations", f"{_B}.api.watch",
    f"{_B}.scaffold", f"{_B}.deploy", f"{_B}.sceptre",
    f"{_B}.images.build", f"{_B}.images.pipeline", f"{_B}.images.registry",
    f"{_B}.cfn.render", f"{_B}.cfn.lint", f"{_B}.cfn.functions", f"{_B}.cfn.queues",
    f"{_B}.cfn.coordinator",
    f"{_B}.local.run.testbed", f"{_B}.local.run.report", f"{_B}.local.run.live_view",
    f"{_B}.local.aws.emulator", f"{_B}.local.aws.stack_group", f"{_B}.local.aws.sqs_tap",
    f"{_B}.local.aws.sceptre_local", f"{_B}.local.lambda_service.event_source_pollers",
    f"{_B}.local.lambda_service.schedules",
)

# Runs `lcbuild ARGS...` in a fresh interpreter and prints which of the watched modules (argv[1],
# JSON; a package counts with its submodules) it loaded.
PROBE = """
import json, sys
from lambda_complex.builder.cli import cli
watched = json.loads(sys.argv[1])
try:
    cli(sys.argv[2:], prog_name="lcbuild")
except SystemExit as e:
    code = e.code
loaded = [w for w in watched if any(m == w or m.startswith(w + ".") for m in sys.modules)]
print(json.dumps({"code": code, "loaded": loaded, "commands": cli.commands.loaded()}))
"""


def loaded_by(*args: str, watched: tuple[str, ...] = HEAVY, cwd: Path = ROOT
              ) -> dict[str, object]:
    """`lcbuild ARGS` in a fresh interpreter: its exit code, the `watched` modules it loaded,
    the commands it imported."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(watched), *args],
                          capture_output=True, text=True, cwd=cwd, check=False, timeout=120)
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


def test_local_invoke_loads_only_its_own_command_and_path() -> None:
    """The real command, process mode, on the example: it runs the handler (exit 0), imports
    only the `local` command's module, and none of NOT_FOR_LOCAL_INVOKE (container mode:
    tests/local/test_local_invoke_once.py)."""
    probe = loaded_by("local", "invoke", "toc", "--mode", "process", "--event",
                      '{"site": "s", "pages": []}', "--app", str(ROOT / "lambda-complex.yaml"),
                      watched=NOT_FOR_LOCAL_INVOKE)
    assert probe == {"code": 0, "loaded": [], "commands": ["local"]}


def test_the_api_declares_each_name_once_for_type_checkers_and_imports_it_on_first_use() -> None:
    """`api/__init__`'s TYPE_CHECKING imports (what mypy checks callers against) and its table
    of first-use imports name the same things from the same modules; each name resolves to
    the object its module defines, and importing `api` alone imports none of them."""
    import ast

    import lambda_complex.builder.api as api_package

    tree = ast.parse(Path(api_package.__file__).read_text(encoding="utf-8"))
    declared: dict[str, tuple[str, str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module
                for alias in statement.names:
                    declared[alias.asname or alias.name] = (statement.module, alias.name)
    assert declared == api_package._WHERE
    assert sorted(declared) == sorted(api_package.__all__)
    for name, (module, attribute) in declared.items():
        assert getattr(api_package, name) is getattr(sys.modules[module], attribute), name
    fresh = subprocess.run(
        [sys.executable, "-c", "import sys, lambda_complex.builder.api; "
         "print(sorted(m for m in sys.modules if m.startswith('lambda_complex.builder.')))"],
        capture_output=True, text=True, check=True, timeout=60)
    assert fresh.stdout.strip() == "['lambda_complex.builder.api']"

