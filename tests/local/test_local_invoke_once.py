"""`lcbuild local invoke`: one component of the example, once, with no deploy and no emulator:
process mode with the real awslambdaric worker, container mode with the built image on the real
engine. Routing is dry: the would-be sends come back as `route` log lines, nothing is sent."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.cli import cli
from lambda_complex.builder.local.lambda_service import engine_socket
from lambda_complex.builder.local.lambda_service.workers import ProcessLauncher
from lambda_complex.builder.local.run import files as run_files
from lambda_complex.builder.local.run import invoke_once, testbed
from lambda_complex.runtime import delivery, protocol
from tests.cli.test_startup import NOT_FOR_LOCAL_INVOKE, loaded_by
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
                              "data": {"lc": 1}, "sent": False}]


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


def test_container_mode_in_a_fresh_process_imports_only_its_own_path(built: Built) -> None:
    """The command as the console script runs it: exit 0, and nothing of the other commands,
    the SDKs, nor process mode's workers (tests/cli/test_startup.py: process mode)."""
    workers = "lambda_complex.builder.local.lambda_service"
    probe = loaded_by("local", "invoke", "toc", "--mode", "container", "--event",
                      '{"site": "s", "pages": []}', "--app", str(built.app_file),
                      watched=(*NOT_FOR_LOCAL_INVOKE, f"{workers}.workers",
                               f"{workers}.worker_env", "lambda_complex.builder.images.specs"))
    assert probe == {"code": 0, "loaded": [], "commands": ["local"]}


# A process that starts one container instance of `render` whose removal it does not await,
# kills it and ends at once: `lcbuild local invoke`'s last steps. It prints the container's id.
KILL_AND_EXIT = """
import sys, tempfile
from pathlib import Path
from lambda_complex.builder.app import load
from lambda_complex.builder.local.lambda_service.containers import ContainerLauncher
from lambda_complex.builder.local.lambda_service.runtime_api import RuntimeApi
from lambda_complex.builder.local.run import invoke_once
app = load.load(sys.argv[1])
fn = invoke_once.function_for(app, "render", {"render": invoke_once.container_image(app, "render")})
api = RuntimeApi()
work = Path(tempfile.mkdtemp())
instance = ContainerLauncher(await_removal=False).start(fn, api.address, {}, work, work / "log")
print(instance.ident, flush=True)
instance.kill()
"""


def test_an_instance_whose_removal_is_not_awaited_is_removed_after_its_process_ends(
        built: Built, docker_client: Any) -> None:
    import docker.errors

    done = subprocess.run([sys.executable, "-c", KILL_AND_EXIT, str(built.app_file)],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    ident = done.stdout.split()[-1]
    deadline = time.monotonic() + 20  # the engine stops (~0.1 s) and removes it on its own
    while time.monotonic() < deadline:
        try:
            docker_client.containers.get(ident)
        except docker.errors.NotFound:
            return
        time.sleep(0.1)
    pytest.fail(f"container {ident} is still there after its process ended")


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


# --send-results: the routed results go on into a running `lcbuild local run` of the app.
SEND_APP = """\
name: sendon
version: 0.1.0
deployment: {region: eu-west-1, registry: ecr}
coordinator: {concurrency: 1, min_interval: 1, timeout: 20}
components:
  - name: first
    type: event_from_invocation
    max_concurrency: 1
    routing: [second, third]
    lambda: {path: code, handler: fns.first, timeout: 5}
  - name: second
    type: event_from_message
    max_concurrency: 1
    queue_wait_time: 0
    lambda: {path: code, handler: fns.record, timeout: 5}
  - name: third
    type: event_from_invocation
    max_concurrency: 1
    lambda: {path: code, handler: fns.record, timeout: 5}
"""
SEND_CODE = """\
def first(event, context):
    return {"n": event["n"] + 1}

def record(event, context):
    return event
"""


def _send_app(root: Path) -> Path:
    (root / "code").mkdir(parents=True)
    (root / "code" / "fns.py").write_text(SEND_CODE)
    (root / "code" / "requirements.txt").write_text("")
    (root / "lambda-complex.yaml").write_text(SEND_APP)
    return root / "lambda-complex.yaml"


def test_send_results_without_a_running_run_is_one_sentence_and_runs_nothing(
    tmp_path: Path,
) -> None:
    app_file = _send_app(tmp_path)
    result = _invoke(app_file, "first", "--mode", "process", "--event", '{"n": 1}',
                     "--send-results")
    assert result.exit_code == 1
    path = run_files.endpoint_path(tmp_path)
    assert result.stderr.strip().splitlines() == [
        f"error: no `lcbuild local run` is running for sendon ({path} does not exist): "
        f"{run_files.START_HINT}"]
    assert result.stdout == ""  # the handler never ran
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"endpoint": "http://127.0.0.1:9", "sqs": "http://127.0.0.1:9",
                                "lambda": "http://127.0.0.1:9", "pid": 2**22 + 1}))
    gone = _invoke(app_file, "first", "--mode", "process", "--send-results")
    assert gone.exit_code == 1
    assert gone.stderr.startswith("error: the `lcbuild local run` of sendon is gone")


def test_send_results_delivers_into_the_running_local_run(tmp_path: Path) -> None:
    app_file = _send_app(tmp_path)
    with testbed.Testbed(app_file, "process", time_scale=0.05) as bed:
        result = _invoke(app_file, "first", "--mode", "process", "--event", '{"n": 1}',
                         "--send-results", "--json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert sorted((r["target"], r["kind"], r["sent"]) for r in out["routes"]) == [
            ("second", protocol.RouteKind.QUEUE, True),
            ("third", protocol.RouteKind.INVOCATION, True)]
        assert bed.wait_idle(60)
        got = bed.report()
    handled = {name: c["handled"] for name, c in got["components"].items()}
    assert handled == {"first": 0, "second": 1, "third": 1}  # first ran here, not in the run
    assert got["totals"]["lost"] == 0
    received = [line for line in bed.logs.poll()
                if protocol.reads_message_line(line) and line.get("outcome") == "succeeded"]
    assert {line["component"] for line in received} == {"second", "third"}


def test_container_mode_finds_this_machines_engine_socket_only() -> None:
    assert engine_socket.socket_path({}) == engine_socket.DEFAULT_SOCKET
    assert engine_socket.socket_path({"DOCKER_HOST": "unix:///run/x.sock"}) == "/run/x.sock"
    with pytest.raises(engine_socket.EngineError, match=r"DOCKER_HOST=tcp://10\.0\.0\.1:2375"):
        engine_socket.socket_path({"DOCKER_HOST": "tcp://10.0.0.1:2375"})
    with pytest.raises(engine_socket.EngineError, match="no Docker engine answers"):
        engine_socket.Engine("/nonexistent/docker.sock").ping()
