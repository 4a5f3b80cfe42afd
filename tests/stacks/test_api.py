"""The Python API: the same sceptre launch as the command line, and the door the CLI goes
through (the CLI prints what the API returns)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from lambda_complex.builder import api
from lambda_complex.builder.cli import cli
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local.aws.emulator import Emulator
from tests.stacks.conftest import push_repositories


def cli_status(app_file: Path) -> dict[str, object]:
    done = CliRunner().invoke(cli, ["status", "--json", "--app", str(app_file)])
    assert done.exit_code == 0, done.output
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


def test_deploy_launches_the_stack_group(aws: Emulator, project: Path) -> None:
    app_file = project / "lambda-complex.yaml"
    app = api.load(app_file)
    push_repositories(project)
    api.deploy(app)
    stacks = {s["StackName"] for s in boto3.client("cloudformation").describe_stacks()["Stacks"]}
    assert stacks == {"sitegen-queues", "sitegen-functions", "sitegen-coordinator"}
    with pytest.raises(UserError, match="sceptre launch staging failed"):
        api.deploy(app, "staging")

    status = api.status(app)
    assert status.control == "running"
    assert sorted(status.stacks) == sorted(stacks)
    assert [c.name for c in status.components] == list(app.component_names)
    assert cli_status(app_file) == status.to_dict()

    assert api.pause(app) == ("running", "paused")
    assert api.status(app).control == "paused"
    assert cli_status(app_file)["control"] == "paused"
    assert api.resume(app) == ("paused", "running")
    assert cli_status(app_file)["control"] == "running"


def test_the_api_of_the_definition_commands(tmp_path: Path) -> None:
    created = api.init(tmp_path / "shop")
    app_file = tmp_path / "shop" / "lambda-complex.yaml"
    assert app_file in created
    assert api.validate(app_file) == []
    app = api.load(app_file)
    assert app.name == "shop"
    text = api.graph(app)
    assert all(name in text for name in app.component_names)
    assert api.graph(app, "mermaid").startswith("flowchart LR")
