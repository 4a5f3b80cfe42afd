from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from lambda_complex.builder.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "lambda-complex.yaml")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lambda_complex.builder.cli", *args],
                          capture_output=True, text=True, cwd=ROOT, check=False)


def test_validate_example_exit_0() -> None:
    result = run("validate")
    assert result.returncode == 0, result.stderr
    assert "sitegen 0.1.0 is valid (5 components)" in result.stdout


def test_validate_reports_every_error_with_path_exit_1(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "lambda-complex.yaml").read_text())
    data["components"][1]["routing"] = ["publish", "rendr"]
    data["components"][0]["batch_size"] = 11
    bad = tmp_path / "app.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = run("validate", "--app", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "components[0].batch_size: 11 is out of range: must be between 1 and 10" in result.stderr
    assert "1 error(s)" in result.stderr or "error(s)" in result.stderr


def test_usage_error_exit_2() -> None:
    result = run("graph", "--format", "jpeg")
    assert result.returncode == 2
    assert "Invalid value for '--format'" in result.stderr


def test_every_command_has_help() -> None:
    runner = CliRunner()
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.help and command.help.split()[0] in result.output


def test_graph_mermaid_of_the_example() -> None:
    result = CliRunner().invoke(cli, ["graph", "--format", "mermaid", "--app", EXAMPLE])
    assert result.exit_code == 0
    assert "n_render --> n_publish" in result.output
    assert "n_ingest -. routes:fan_out .-> n_toc" in result.output


def test_init_creates_an_application_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "my-app"
    runner = CliRunner()
    result = runner.invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "lambda-complex.yaml").exists()
    config = yaml.safe_load((target / "config" / "config.yaml").read_text())
    assert config["project_code"] == "my-app"
    assert (target / "config" / "prod" / "functions.yaml").exists()
    assert (target / "stacks" / "README.md").exists()
    check = runner.invoke(cli, ["validate", "--app", str(target / "lambda-complex.yaml")])
    assert check.exit_code == 0, check.output
    assert "my-app 0.1.0 is valid" in check.output
    again = runner.invoke(cli, ["init", str(target)])
    assert again.exit_code == 1 and "not empty" in again.output


def test_init_writes_the_stack_group_of_the_repository() -> None:
    """The scaffold's Sceptre stacks are the repository's own (no drift between the two)."""
    template = ROOT / "builder/lambda_complex/builder/scaffold/template/config/prod"
    ours = sorted(p.name for p in (ROOT / "config" / "prod").glob("*.yaml"))
    assert sorted(p.name for p in template.glob("*.yaml")) == ours
    for name in ours:
        assert (template / name).read_text() == (ROOT / "config" / "prod" / name).read_text()


def test_generated_stack_group_carries_region_and_tags(tmp_path: Path) -> None:
    from lambda_complex.builder import scaffold

    scaffold.write_stack_group(tmp_path, "shop", "us-east-2", {"team": "web: ops"})
    config = yaml.safe_load((tmp_path / "config" / "config.yaml").read_text())
    assert config == {"project_code": "shop", "region": "us-east-2",
                      "stack_tags": {"team": "web: ops"}}
    assert (tmp_path / "config" / "prod" / "queues.yaml").exists()
