"""Function definitions: from the emulator, from the application definition, merged."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import yaml

from lambda_complex.builder.app import load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import coordinator as cfn_coordinator
from lambda_complex.builder.cfn import functions as cfn_functions
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.builder.local.lambda_service import functions
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.runtime import entrypoints
from tests.app.conftest import valid, write_app_tree

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
    assert render.handler == entrypoints.WRAPPER_HANDLER
    assert render.reserved_concurrency == 3 and render.timeout == 30
    assert render.code_path == (REPO / "examples/sitegen/render").resolve()
    assert render.image == "img:render" and defined["sitegen-toc"].image is None
    assert json.loads(render.config_json or "{}")["component"] == "render"
    # A message component's invocation is a nudge: neither retried nor recorded.
    assert (render.max_retry_attempts, render.on_failure) == (0, None)
    toc = defined["sitegen-toc"]
    assert toc.on_failure == "arn:aws:sqs:eu-west-1:123456789012:sitegen-toc-dlq"
    assert toc.max_retry_attempts == 2 and toc.log_format == "JSON"
    assert defined["sitegen-search-index"].environment == {"SITE_BUCKET": "sitegen-example-site"}
    coordinator, invoker = defined["sitegen-coordinator"], defined["sitegen-invoker"]
    assert coordinator.handler == entrypoints.COORDINATOR_HANDLER
    assert invoker.handler == entrypoints.INVOKER_HANDLER
    assert json.loads(invoker.config_json or "{}")["component"] == "coordinator"
    assert coordinator.on_failure is None and coordinator.max_retry_attempts == 0
    assert coordinator.code_path is None


def _rendered_functions(app: App, images: Images) -> dict[str, dict[str, Any]]:
    """Function name -> what the rendered templates deploy, in FunctionDefinition's terms."""
    found: dict[str, dict[str, Any]] = {}
    for template in (cfn_functions.render(app, images), cfn_coordinator.render(app, images)):
        resources = template["Resources"]
        by_id = {key: r["Properties"] for key, r in resources.items()
                 if r["Type"] == "AWS::Lambda::Function"}
        mappings = {r["Properties"]["FunctionName"]["Ref"]: r["Properties"]
                    for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
        for r in resources.values():
            if r["Type"] != "AWS::Lambda::EventInvokeConfig":
                continue
            p = by_id[r["Properties"]["FunctionName"]["Ref"]]
            destination = r["Properties"].get("DestinationConfig", {})
            queue = destination.get("OnFailure", {}).get("Destination", {}).get("Fn::Sub")
            command = p.get("ImageConfig", {}).get("Command")
            mapping = mappings.get(r["Properties"]["FunctionName"]["Ref"])
            found[p["FunctionName"]] = {
                "image": p["Code"]["ImageUri"],
                "handler": command[0] if command else None,
                "timeout": p["Timeout"],
                "memory": p["MemorySize"],
                "reserved_concurrency": p.get("ReservedConcurrentExecutions"),
                "environment": p.get("Environment", {}).get("Variables", {}),
                "on_failure": queue and queue.rsplit(":", 1)[1],
                "max_retry_attempts": r["Properties"]["MaximumRetryAttempts"],
                "log_format": p["LoggingConfig"]["LogFormat"],
                "recursive_loop": p["RecursiveLoop"],
                "event_source": mapping and {
                    "queue": mapping["EventSourceArn"]["Fn::Sub"].rsplit(":", 1)[1],
                    "batch_size": mapping["BatchSize"],
                    "window": mapping["MaximumBatchingWindowInSeconds"],
                    "max_concurrency": mapping["ScalingConfig"]["MaximumConcurrency"],
                    "report_item_failures": (mapping["FunctionResponseTypes"]
                                             == ["ReportBatchItemFailures"]),
                    "enabled": mapping["Enabled"],
                },
            }
    return found


def test_local_functions_are_the_rendered_templates_functions(tmp_path: Path) -> None:
    """One model feeds both: every setting the templates deploy is what the local service runs,
    on an app where every kind of setting differs between functions."""
    data = valid()  # bill and notify route to each other; notify is invoked, the others queued
    data["coordinator"].update(memory=512, timeout=200)
    data["components"][2]["lambda"].update(environment={"MODE": "fast"}, memory=1024)
    data["components"][0].update(dispatch="native", batching_window=3)  # orders: a mapping
    write_app_tree(tmp_path)
    (tmp_path / "lambda-complex.yaml").write_text(yaml.safe_dump(data))
    app = load.load(tmp_path / "lambda-complex.yaml")
    uris = {name: f"reg/{name}@sha256:{'a' * 64}" for name in app.component_names}
    images = Images(components=uris, coordinator=f"reg/coordinator@sha256:{'b' * 64}")
    rendered = _rendered_functions(app, images)
    local = functions.from_app(app, {**uris, "coordinator": images.coordinator})

    assert {f.name for f in local} == set(rendered)
    for f in local:
        expected = rendered[f.name]
        image_cmd = (entrypoints.COORDINATOR_HANDLER if f.image == images.coordinator
                     else entrypoints.WRAPPER_HANDLER)
        assert {
            "image": f.image,
            "handler": None if f.handler == image_cmd else f.handler,
            "timeout": f.timeout,
            "memory": f.memory,
            "reserved_concurrency": f.reserved_concurrency,
            "environment": dict(f.environment),
            "on_failure": f.on_failure and f.on_failure.rsplit(":", 1)[1],
            "max_retry_attempts": f.max_retry_attempts,
            "log_format": f.log_format,
            "recursive_loop": f.recursive_loop,
            "event_source": f.event_source and {
                "queue": f.event_source.queue_arn.rsplit(":", 1)[1],
                "batch_size": f.event_source.batch_size,
                "window": f.event_source.window,
                "max_concurrency": f.event_source.max_concurrency,
                "report_item_failures": f.event_source.report_item_failures,
                "enabled": f.event_source.enabled,
            },
        } == expected, f.name
    assert [f.name for f in local if f.event_source is not None] == ["shop-orders"]
    kinds = {(f.max_retry_attempts, f.recursive_loop, f.on_failure is None) for f in local}
    assert len(kinds) >= 3  # the app really exercises the differences


def test_merge_prefers_deployed_settings_but_keeps_what_moto_drops() -> None:
    defined = FunctionDefinition(
        "f",
        entrypoints.WRAPPER_HANDLER,
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
        entrypoints.WRAPPER_HANDLER,
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
