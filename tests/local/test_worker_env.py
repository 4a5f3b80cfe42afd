"""Process mode gives each component what its image holds, not the tool's environment: its
folder, its requirements.txt (installed once into the cache), the runtime package and the base
image's packages. Through the real local Lambda service and awslambdaric."""

from __future__ import annotations

import json
import sysconfig
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambda_complex.builder.local import cache
from lambda_complex.builder.local.lambda_service import service as lambda_service
from lambda_complex.builder.local.lambda_service import worker_env
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition

from .conftest import lambda_client

USES_YAML = "import yaml\n\ndef handler(event, context):\n    return yaml.safe_load(event['doc'])\n"
PATHS = """\
import sys

def handler(event, context):
    import boto3, awslambdaric
    return {"path": sys.path, "site": "site" in sys.modules,
            "boto3": boto3.__file__, "awslambdaric": awslambdaric.__file__}
"""


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache directory for this test; the folder the tool makes in it."""
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "lambda-complex"


def _folders(parent: Path) -> list[Path]:
    """What a cache folder holds, without its lock files."""
    return sorted(p for p in parent.iterdir() if not p.name.startswith("."))


def _code(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@contextmanager
def _running(code: Path, handler: str, logs: Path) -> Iterator[lambda_service.LambdaService]:
    fn = FunctionDefinition(name="f", handler=handler, code_path=code, timeout=30)
    service = lambda_service.start_service([fn], "process", logs)
    try:
        yield service
    finally:
        service.stop()


def _invoke(service: lambda_service.LambdaService, event: Any) -> tuple[bool, Any]:
    answer = lambda_client(service.url).invoke(FunctionName="f", Payload=json.dumps(event))
    return "FunctionError" not in answer, json.loads(answer["Payload"].read())


def test_a_package_the_component_does_not_list_is_not_importable(
    tmp_path: Path, cached: Path
) -> None:
    assert yaml.__file__  # the tool's own environment has it
    code = _code(tmp_path / "code", {"uses.py": USES_YAML})
    with _running(code, "uses.handler", tmp_path / "logs") as service:
        ok, payload = _invoke(service, {"doc": "a: 1"})
    assert not ok
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'yaml'" in payload["errorMessage"]


def test_a_listed_package_is_installed_once_and_importable(
    tmp_path: Path, cached: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requirements = f"pyyaml=={yaml.__version__}\n"
    code = _code(tmp_path / "code", {"uses.py": USES_YAML, "requirements.txt": requirements})
    with _running(code, "uses.handler", tmp_path / "logs") as service:
        assert _invoke(service, {"doc": "a: [1, 2]"}) == (True, {"a": [1, 2]})
    progress = capsys.readouterr().err.splitlines()
    [installed] = _folders(cached / "requirements")
    assert (installed / "yaml" / "__init__.py").is_file()
    assert len(progress) == 1 and "installing the requirements of f" in progress[0]
    assert str(installed) in progress[0]

    # A second run: the same folder, no pip (it would print its progress line).
    with _running(code, "uses.handler", tmp_path / "logs2") as service:
        assert _invoke(service, {"doc": "b: 2"}) == (True, {"b": 2})
    assert capsys.readouterr().err == ""
    assert _folders(cached / "requirements") == [installed]


@pytest.mark.timing
def test_a_second_run_with_installed_requirements_starts_within_ten_seconds(
    tmp_path: Path, cached: Path
) -> None:
    requirements = f"pyyaml=={yaml.__version__}\n"
    code = _code(tmp_path / "code", {"uses.py": USES_YAML, "requirements.txt": requirements})
    with _running(code, "uses.handler", tmp_path / "logs") as service:
        assert _invoke(service, {"doc": "a: 1"}) == (True, {"a": 1})
    started = time.monotonic()
    with _running(code, "uses.handler", tmp_path / "logs2") as service:
        assert _invoke(service, {"doc": "b: 2"}) == (True, {"b": 2})
    assert time.monotonic() - started < 10


def test_a_worker_sees_no_site_packages_of_the_tool(tmp_path: Path, cached: Path) -> None:
    code = _code(tmp_path / "code", {"paths.py": PATHS})
    with _running(code, "paths.handler", tmp_path / "logs") as service:
        ok, got = _invoke(service, {})
    assert ok, got
    tool_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    assert not [p for p in got["path"] if any(p.startswith(s) for s in tool_site)], got["path"]
    assert got["site"] is False
    assert got["boto3"].startswith(str(cached / "base"))  # the base image's packages, linked
    assert got["awslambdaric"].startswith(str(cached / "base"))
    runtime = [p for p in got["path"] if p.startswith(str(cached / "runtime"))]
    assert len(runtime) == 1 and (Path(runtime[0]) / "lambda_complex/runtime/wrapper.py").is_file()
    assert str(code) in got["path"][:2]  # the task root first, as /var/task in an image


def test_a_failed_install_names_the_component_and_pip_s_error(
    tmp_path: Path, cached: Path
) -> None:
    code = _code(tmp_path / "code", {"uses.py": USES_YAML, "requirements.txt": "./not-here\n"})
    fn = FunctionDefinition(name="app-render", handler="uses.handler", code_path=code)
    with pytest.raises(worker_env.RequirementsError) as failed:
        lambda_service.start_service([fn], "process", tmp_path / "logs")
    message = str(failed.value)
    assert message.startswith(f"app-render: pip could not install {code / 'requirements.txt'}: ")
    assert "ERROR:" in message and "not-here" in message and "\n" not in message
    assert _folders(cached / "requirements") == []


def test_base_packages_are_the_distributions_and_what_they_require() -> None:
    names = {d.metadata["Name"].lower() for d in worker_env.closure(("awslambdaric", "boto3"))}
    assert {"awslambdaric", "boto3", "botocore", "s3transfer", "jmespath", "urllib3"} <= names
    assert not names & {"pyyaml", "click", "sceptre", "lambda-complex"}
