"""Expected failures of the commands that talk to AWS: one sentence on stderr, exit 1, never a
traceback. Driven through the real CLI and real botocore; where AWS itself must answer with an
error (expired token, access denied), a loopback HTTP server answers as AWS does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from lambda_complex.builder.cli import cli
from lambda_complex.builder.local.aws.emulator import free_port
from lambda_complex.builder.local.run import files as run_files
from tests.images.conftest import copy_app

# Every command that reads or changes the deployed application (trace: its CloudWatch logs).
AWS_COMMANDS = (["status"], ["plan"], ["pause"], ["resume"], ["redrive", "render"],
                ["trace", "0123456789abcdef"])
LOCAL_COMMANDS = tuple(c for c in AWS_COMMANDS if c[0] != "trace")  # trace --local reads files
_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN")


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    return copy_app(tmp_path / "app")


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No credentials anywhere boto3 looks; the instance metadata service is never asked (no
    address but loopback may be reached)."""
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def invoke(app_file: Path, command: list[str], *extra: str) -> Result:
    return CliRunner().invoke(cli, [*command, "--app", str(app_file), *extra])


def assert_one_sentence(outcome: Result, start: str) -> str:
    assert outcome.exit_code == 1, outcome.output
    # CliRunner keeps an uncaught exception in `exception` (a traceback for a user): only the
    # clean exit may be there.
    assert isinstance(outcome.exception, SystemExit), outcome.exception
    assert "Traceback" not in outcome.output
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith(f"error: {start}"), lines[0]
    return lines[0]


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=lambda c: c[0])
def test_missing_credentials(app_file: Path, no_aws: pytest.MonkeyPatch,
                             command: list[str]) -> None:
    line = assert_one_sentence(invoke(app_file, command), "no AWS credentials were found")
    assert "AWS_PROFILE" in line


@pytest.mark.parametrize("command", AWS_COMMANDS[:2], ids=lambda c: c[0])
def test_partial_credentials(app_file: Path, no_aws: pytest.MonkeyPatch,
                             command: list[str]) -> None:
    no_aws.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    line = assert_one_sentence(invoke(app_file, command), "the AWS credentials are incomplete")
    assert "AWS_SECRET_ACCESS_KEY" in line


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=lambda c: c[0])
def test_unreachable_endpoint(app_file: Path, no_aws: pytest.MonkeyPatch,
                              command: list[str]) -> None:
    no_aws.setenv("AWS_ACCESS_KEY_ID", "testing")
    no_aws.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    no_aws.setenv("AWS_ENDPOINT_URL", url)
    line = assert_one_sentence(invoke(app_file, command), f"the AWS endpoint {url}")
    assert "does not answer" in line and "AWS_ENDPOINT_URL" in line


class _AwsRefuses(BaseHTTPRequestHandler):
    """Answers every call with one AWS error, in the JSON or the query (XML) protocol, as the
    service asked."""

    code = "ExpiredToken"
    status = 400

    def do_GET(self) -> None:  # REST APIs (Lambda's ListEventSourceMappings) read with GET
        self._refuse(rest=True)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._refuse(rest=False)

    def _refuse(self, rest: bool) -> None:
        message = f"{self.code} for this test"
        if rest or "json" in self.headers.get("Content-Type", ""):
            body = json.dumps({"__type": self.code, "message": message}).encode()
            kind = "application/x-amz-json-1.1"
        else:
            body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{self.code}</Code>"
                    f"<Message>{message}</Message></Error><RequestId>1</RequestId>"
                    "</ErrorResponse>").encode()
            kind = "text/xml"
        self.send_response(self.status)
        self.send_header("Content-Type", kind)
        self.send_header("x-amzn-ErrorType", self.code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def refusing_endpoint(no_aws: pytest.MonkeyPatch) -> Iterator[type[_AwsRefuses]]:
    handler = type("Handler", (_AwsRefuses,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    no_aws.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
    no_aws.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    no_aws.setenv("AWS_SESSION_TOKEN", "token")
    no_aws.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=lambda c: c[0])
def test_expired_token(app_file: Path, refusing_endpoint: type[_AwsRefuses],
                       command: list[str]) -> None:
    line = assert_one_sentence(invoke(app_file, command), "the AWS credentials have expired")
    assert "ExpiredToken" in line and "renew them" in line


@pytest.mark.parametrize("command", AWS_COMMANDS, ids=lambda c: c[0])
def test_access_denied(app_file: Path, refusing_endpoint: type[_AwsRefuses],
                       command: list[str]) -> None:
    refusing_endpoint.code, refusing_endpoint.status = "AccessDenied", 403
    line = assert_one_sentence(invoke(app_file, command), "AWS denied")
    assert "AccessDenied" in line and "policy" in line


@pytest.mark.parametrize("command", LOCAL_COMMANDS, ids=lambda c: c[0])
def test_local_without_a_running_testbed(app_file: Path, no_aws: pytest.MonkeyPatch,
                                         command: list[str]) -> None:
    line = assert_one_sentence(invoke(app_file, command, "--local"),
                               "no `lcbuild local run` is running for sitegen")
    assert "start `lcbuild local run`" in line


@pytest.mark.parametrize("command", LOCAL_COMMANDS, ids=lambda c: c[0])
def test_local_testbed_that_stopped(app_file: Path, no_aws: pytest.MonkeyPatch,
                                    command: list[str]) -> None:
    # A testbed killed without cleaning up leaves its endpoint file behind.
    dead = f"http://127.0.0.1:{free_port()}"
    endpoint_file = run_files.endpoint_path(app_file.parent)
    endpoint_file.parent.mkdir(parents=True)
    endpoint_file.write_text(json.dumps({"endpoint": dead, "sqs": dead, "lambda": dead}))
    line = assert_one_sentence(invoke(app_file, command, "--local"),
                               f"no `lcbuild local run` answers at {dead}")
    assert "start `lcbuild local run`" in line


def test_local_endpoint_file_unreadable(app_file: Path, no_aws: pytest.MonkeyPatch) -> None:
    endpoint_file = run_files.endpoint_path(app_file.parent)
    endpoint_file.parent.mkdir(parents=True)
    endpoint_file.write_text("{not json")
    assert_one_sentence(invoke(app_file, ["status"], "--local"),
                        f"{endpoint_file} is not the endpoint file")


def test_images_without_docker(app_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{free_port()}")
    line = assert_one_sentence(invoke(app_file, ["images"], "--dry-run"),
                               "Docker is not reachable: start")
    assert "DOCKER_HOST" in line
