"""Function definitions: from the emulator, from the application definition, merged."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3

from lambda_complex.builder.app import load
from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.builder.local.lambda_service import functions
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition

REPO = Path(__file__).resolve().parents[2]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("fns.py", "def echo(e, c):\n    return e\n")
    return buffer.getvalue()


def test_function_name_from_names_and_arns() -> None:
    assert functions.function_name_from("f") == "f"
    assert functions.function_name_from("f:$LATEST") == "f"
    assert functions.function_name_from("arn:aws:lambda:eu-west-1:123456789012:function:f") == "f"
    assert functions.function_name_from("123456789012:function:f:7") == "f"


def test_from_emulator_reads_what_moto_keeps(aws: Emulator) -> None:
    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="r",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    client = boto3.client("lambda")
    client.create_function(
        FunctionName="sitegen-render",
        Runtime="python3.12",
        Role=role,
        Handler="fns.echo",
        Code={"ZipFile": _zip()},
        Timeout=30,
        MemorySize=512,
        Environment={"Variables": {"A": "1"}},
    )
    client.put_function_concurrency(FunctionName="sitegen-render", ReservedConcurrentExecutions=3)

    [found] = functions.from_emulator(client)

    assert found.name == "sitegen-render" and found.handler == "fns.echo"
    assert (found.timeout, found.memory, found.reserved_concurrency) == (30, 512, 3)
    assert found.environment == {"A": "1"}
    assert found.region == "eu-west-1" and found.account_id == "123456789012"


def test_from_app_gives_cmd_destination_code_and_config() -> None:
    app = load.load(REPO / "lambda-complex.yaml")
    defined = {f.name: f for f in functions.from_app(app, images={"render": "img:render"})}

    render = defined["sitegen-render"]
    assert render.handler == functions.WRAPPER_HANDLER
    assert render.reserved_concurrency == 3 and render.timeout == 30
    assert render.on_failure == "arn:aws:sqs:eu-west-1:123456789012:sitegen-render-dlq"
    assert render.code_path == (REPO / "examples/sitegen/render").resolve()
    assert render.image == "img:render"
    assert json.loads(render.config_json or "{}")["component"] == "render"
    assert defined["sitegen-search-index"].environment == {"SITE_BUCKET": "sitegen-example-site"}
    assert defined["sitegen-coordinator"].handler == functions.COORDINATOR_HANDLER
    assert defined["sitegen-invoker"].handler == functions.INVOKER_HANDLER
    assert defined["sitegen-coordinator"].on_failure is None
    assert defined["sitegen-coordinator"].max_retry_attempts == 0
    assert render.max_retry_attempts == 2 and render.log_format == "JSON"


def test_merge_prefers_deployed_settings_but_keeps_what_moto_drops() -> None:
    defined = FunctionDefinition(
        "f",
        functions.WRAPPER_HANDLER,
        timeout=60,
        reserved_concurrency=2,
        environment={"A": "app", "B": "app"},
        on_failure="arn:q",
        code_path=Path("/src"),
        image="local:1",
    )
    deployed = FunctionDefinition(
        "f",
        "",
        timeout=30,
        memory=512,
        reserved_concurrency=None,
        environment={"A": "deployed"},
        image="123.dkr.ecr/f@sha256:x",
    )
    stray = FunctionDefinition("other", "m.h")
    nameless = FunctionDefinition("image-only", "")

    merged = {f.name: f for f in functions.merge([deployed, stray, nameless], [defined])}

    f = merged["f"]
    assert (f.handler, f.timeout, f.memory, f.reserved_concurrency) == (
        functions.WRAPPER_HANDLER,
        30,
        512,
        2,
    )
    assert f.environment == {"A": "deployed", "B": "app"}
    assert (f.on_failure, f.code_path, f.image) == ("arn:q", Path("/src"), "local:1")
    assert "other" in merged and "image-only" not in merged


def test_local_images_from_the_build_manifest() -> None:
    manifest: dict[str, dict[str, Any]] = {
        "render": {"image_id": "sha256:abc", "uri": "reg/sitegen/render@sha256:d"},
        "coordinator": {"image_id": None, "uri": "reg/sitegen/coordinator:t"},
        "broken": {},
    }
    assert functions.local_images(manifest) == {
        "render": "sha256:abc",
        "coordinator": "reg/sitegen/coordinator:t",
    }
