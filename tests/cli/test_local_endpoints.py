"""The endpoint file of a running `lcbuild local run`, as the commands beside it read it (one
reader for `--local` and `lcbuild local deploy`): no file means no run; a file the run did not
write is named as such; both one sentence, exit 1, nothing sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lambda_complex.builder import api
from lambda_complex.builder.cli import cli
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local.run import files as run_files
from tests.images.conftest import copy_app


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    return copy_app(tmp_path / "app")


def deploy(app_file: Path) -> Result:
    return CliRunner().invoke(cli, ["local", "deploy", "--app", str(app_file), "--timeout", "1"])


def one_line(outcome: Result) -> str:
    assert outcome.exit_code == 1, outcome.output
    assert isinstance(outcome.exception, SystemExit), outcome.exception
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    return lines[0]


def write_endpoints(app_file: Path, text: str) -> Path:
    path = run_files.endpoint_path(app_file.parent)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_local_deploy_without_a_run(app_file: Path) -> None:
    path = run_files.endpoint_path(app_file.parent)
    assert one_line(deploy(app_file)) == (
        f"error: no `lcbuild local run` is running for sitegen ({path} does not exist): "
        f"{api.LOCAL_RUN_HINT}")


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"endpoint": "http://127.0.0.1:1"}',
                                  '{"endpoint": 1, "sqs": 2, "lambda": 3, "credentials": 4}'],
                         ids=["not-json", "not-an-object", "keys-missing", "credentials-wrong"])
def test_an_endpoint_file_no_run_wrote(app_file: Path, text: str) -> None:
    path = write_endpoints(app_file, text)
    line = one_line(deploy(app_file))
    assert line.startswith(f"error: {path} is not the endpoint file of a running `lcbuild "
                           "local run` ("), line
    assert line.endswith(api.LOCAL_RUN_HINT)


def test_an_endpoint_file_without_the_runs_process(app_file: Path) -> None:
    dead = "http://127.0.0.1:1"
    path = write_endpoints(app_file, json.dumps({"endpoint": dead, "sqs": dead, "lambda": dead}))
    assert one_line(deploy(app_file)) == (
        f"error: {path} names no process of a running `lcbuild local run`: "
        f"{api.LOCAL_RUN_HINT}")
    assert not run_files.redeploy_path(app_file.parent).exists()  # nothing was asked of a run


def test_the_reader_returns_what_the_run_wrote(app_file: Path) -> None:
    app = api.load(app_file)
    with pytest.raises(UserError, match="does not exist"):
        run_files.read_endpoints(app)
    write_endpoints(app_file, json.dumps({
        "endpoint": "http://127.0.0.1:1", "sqs": "http://127.0.0.1:2",
        "lambda": "http://127.0.0.1:3", "pid": 4321,
        "credentials": {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"}}))
    assert run_files.read_endpoints(app) == run_files.Endpoints(
        "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3", 4321,
        {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"})
