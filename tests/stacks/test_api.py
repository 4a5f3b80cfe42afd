"""The Python API's deploy: the same sceptre launch as the command line."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from lambda_complex.builder import api
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local.aws.emulator import Emulator
from tests.stacks.conftest import push_repositories


def test_deploy_launches_the_stack_group(aws: Emulator, project: Path) -> None:
    app = api.load(project / "lambda-complex.yaml")
    push_repositories(project)
    api.deploy(app)
    stacks = {s["StackName"] for s in boto3.client("cloudformation").describe_stacks()["Stacks"]}
    assert stacks == {"sitegen-queues", "sitegen-functions", "sitegen-coordinator"}
    with pytest.raises(UserError, match="sceptre launch staging failed"):
        api.deploy(app, "staging")
