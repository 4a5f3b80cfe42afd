"""`lcbuild local invoke`: one component of the example, once, with no deploy and no emulator:
process mode with the real awslambdaric worker, container mode with the built image on the real
engine. Routing is dry: the would-be sends come back as `route` log lines, nothing is sent."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.cli import cli
from lambda_complex.builder.local.lambda_service.workers import ProcessLauncher
from lambda_complex.builder.local.run import invoke_once
from lambda_complex.runtime import delivery, protocol
from tests.images.conftest import Built, copy_app

PAGE = {"site": "demo", "slug": "a", "title": "A <b>", "body": "hello"}


def _invoke(app_file: Path, *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli, ["local", "invoke", *args, "--app", str(app_file)],
                              input=stdin)


def _json(app_file: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = _invoke(app_file, *args, "--json")
    return result.exit_code, json.loads(result.stdout)


def test_a_message_component_handles_one_body_and_routes_nowhere(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    code, out = _json(app_file, "render", "--mode", "process", "--event", json.dumps(PAGE))
    assert code == 0, out
    assert out["ok"] and out["outcome"] == "succeeded" and out["mode"] == "process"
    assert out["result"]["html"].count("A &lt;b&gt;") == 2  # the real handler ran on the body
    routes = {(r["target"], r["kind"]) for r in out["routes"]}
    assert routes == {("publish", protocol.RouteKind.INVOCATION),
                      ("search-index", protocol.RouteKind.QUEUE)}
    assert all(r["data"]["slug"] == "a" for r in out["routes"])
    assert any(line.startswith("START RequestId:") for line in out["logs"])


def test_text_output_says_where_results_would_go(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    result = _invoke(app_file, "toc", "--mode", "process", "--event", "-",
                     stdin=json.dumps({"site": "demo", "pages": [{"slug": "a", "title": "A"}]}))
    assert result.exit_code == 0, result.output
    assert "would route to publish (invocation): " in result.stdout
    assert '"slug": "index"' in result.stdout
    assert "toc: succeeded" in result.stdout


def test_event_from_a_file_and_a_handler_error_exit_1(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"site": "demo"}))  # render needs slug, title, body
    code, out = _json(app_file, "render", "--mode", "process", "--event", f"@{event}")
    assert code == 1
    assert not out["ok"] and out["outcome"] == "failed"
    assert out["error"]["errorType"] == "KeyError"
    assert out["routes"] == []


def test_a_handler_that_calls_aws_fails_locally_without_reaching_anything(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    page = {"site": "demo", "slug": "a", "title": "A", "html": "<p>"}
    code, out = _json(app_file, "publish", "--mode", "process", "--event", json.dumps(page))
    assert code == 1
    assert out["error"]["errorType"] == "EndpointConnectionError"
    assert invoke_once.NO_AWS_ENDPOINT in out["error"]["errorMessage"]


def test_a_malformed_envelope_is_dead_lettered_dry(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    code, out = _json(app_file, "ingest", "--mode", "process", "--event", '{"lc": 1}')
    assert code == 1
    assert out["outcome"] == "dead_lettered" and "not an envelope" in out["reason"]
    assert out["routes"] == [{"target": "ingest", "kind": protocol.RouteKind.DEAD_LETTER,
                              "data": {"lc": 1}}]


def test_bad_input_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    unknown = _invoke(app_file, "rendr", "--mode", "process")
    assert unknown.exit_code == 1
    assert unknown.output.strip().startswith("error: no component 'rendr' in sitegen")
    assert "Traceback" not in unknown.output
    not_json = _invoke(app_file, "render", "--mode", "process", "--event", "{nope")
    assert not_json.exit_code == 1 and "--event: not JSON" in not_json.output
    missing = _invoke(app_file, "render", "--mode", "process", "--event", "@/nonexistent.json")
    assert missing.exit_code == 1 and "cannot read /nonexistent.json" in missing.output
    no_image = _invoke(app_file, "render", "--mode", "container")
    assert no_image.exit_code == 1 and "no built image for 'render'" in no_image.output


def test_the_direct_event_is_ignored_without_dry_routing(tmp_path: Path) -> None:
    """A deployed function never treats an outside payload as a local invoke: without the dry
    routing variable the message component takes its work from its queue (here: out of reach)."""
    app = app_load.load(copy_app(tmp_path / "app"))
    fn = invoke_once.function_for(app, "render")
    wet = replace(fn, environment={k: v for k, v in fn.environment.items()
                                   if k != delivery.DRY_ROUTING_ENV})
    outcome = invoke_once.run(wet, "render", PAGE, ProcessLauncher())
    assert not outcome.ok and outcome.routes == []
    assert outcome.error is not None
    assert invoke_once.NO_AWS_ENDPOINT in json.dumps(outcome.error)  # it tried SQS, not PAGE


def test_container_mode_runs_the_built_image(built: Built) -> None:
    code, out = _json(built.app_file, "render", "--mode", "container", "--event",
                      json.dumps(PAGE))
    assert code == 0, out
    assert out["mode"] == "container" and out["outcome"] == "succeeded"
    assert out["result"]["speedups"] is True  # the C extension compiled in the image
    assert {r["target"] for r in out["routes"]} == {"publish", "search-index"}
    assert any('"event":"message"' in line for line in out["logs"])


def test_a_diverted_handler_error_still_fails_the_invoke() -> None:
    """The routing function sent the failure on (the input is done), but the handler raised."""
    lines = [
        '{"ts":1,"event":"route","target":"errors","kind":"queue","body":"{\\"data\\": 1}"}',
        '{"ts":1,"event":"message","component":"c","outcome":"diverted","reason":null}',
    ]
    outcome = invoke_once.outcome_of("c", b'{"handled": 1, "succeeded": 1, "result": null}',
                                     False, lines)
    assert not outcome.ok and outcome.outcome == "diverted"
    assert [(r.target, r.kind, r.data) for r in outcome.routes] == [("errors", "queue", 1)]
    assert len(outcome.logs) == 1  # the route line is a route, not a log line
