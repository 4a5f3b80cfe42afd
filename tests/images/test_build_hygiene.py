"""What must never reach an image, checked on images built by the real engine: secrets planted
in a component folder, and the CA certificates a build trusts. Also: a CA changes no tag, so
building with and without it rebuilds nothing."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.cli import cli
from lambda_complex.builder.images import build
from lambda_complex.builder.images import pipeline as api
from lambda_complex.builder.images.build import Engine
from lambda_complex.builder.images.specs import CA_CERT_ENV

# One of each kind of file that holds secrets by convention, at the places people keep them.
SECRETS = (".env", ".env.local", ".aws/credentials", ".aws/config", ".ssh/id_ed25519",
           "id_rsa", "id_ed25519", "id_ecdsa.pub", "deploy/id_rsa", "certs/server.pem",
           "certs/server.key", ".git/config", ".git/HEAD", "notes/private.txt",
           "build/output.bin")
CODE = ("keeper.py", "keeper_lib/__init__.py", "keeper_lib/words.py", "data/words.txt")

DEFINITION = """\
name: hygiene
version: 0.1.0
deployment:
  region: eu-west-1
  registry: ecr
components:
  - name: keeper
    type: event_from_invocation
    lambda:
      path: keeper
      handler: keeper.handler
"""


@dataclass
class Made:
    app_file: Path
    options: api.Options
    result: api.Result
    ca_marker: bytes  # a line of the extra CA's base64 body: in no final image file


def make_ca(folder: Path) -> Path:
    """A fresh self-signed CA: its bytes are unique to this run."""
    key, cert = folder / "ca.key.out", folder / "extra-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN=lcbuild test CA {uuid.uuid4()}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    key.unlink()
    return cert


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, docker_client: Any, base_image: str,
         ca_certs: tuple[Path, ...]) -> Made:
    root = tmp_path_factory.mktemp("hygiene")
    (root / "lambda-complex.yaml").write_text(DEFINITION)
    folder = root / "keeper"
    run_id = uuid.uuid4().hex  # the engine keeps images between sessions: build for real
    (folder / "keeper_lib").mkdir(parents=True)
    (folder / "keeper.py").write_text(
        f"# {run_id}\nimport markupsafe\nfrom keeper_lib import words\n\n\n"
        "def handler(event, context):\n    return words.count()\n")
    (folder / "keeper_lib/__init__.py").write_text("")
    (folder / "keeper_lib/words.py").write_text("def count():\n    return 3\n")
    (folder / "data").mkdir()
    (folder / "data/words.txt").write_text("a b c\n")
    # a dependency stage of its own (pip through the proxy, with the CA) for this run
    (folder / "requirements.txt").write_text(f"# {run_id}\nmarkupsafe\n")
    for rel in SECRETS:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(f"SECRET {rel}\n")
    (folder / ".dockerignore").write_text("build/\n")
    (folder / ".lcbuildignore").write_text("notes/\n")
    ca = make_ca(root)
    marker = ca.read_bytes().splitlines()[5]  # a line of base64 from the certificate's body
    options = api.Options(base_image=base_image, ca_certs=(*ca_certs, ca))
    result = api.build_images(app_load.load(root / "lambda-complex.yaml"), options)
    assert result.ok, [(i.error, i.log_tail) for i in result.images]
    assert result.image("keeper").status == "built"
    return Made(root / "lambda-complex.yaml", options, result, marker)


def run_in(docker_client: Any, image_id: str, script: str) -> str:
    out = docker_client.containers.run(image_id, entrypoint=["sh", "-c"], command=[script],
                                       network_mode="none", remove=True)
    return str(out.decode())


def test_no_secret_reaches_var_task_but_the_code_does(made: Made, docker_client: Any) -> None:
    image_id = made.result.image("keeper").image_id
    listing = run_in(docker_client, image_id,
                     "cd /var/task && find . -path ./lambda_complex -prune -o -print")
    files = {line.removeprefix("./") for line in listing.split()}
    for rel in CODE:
        assert rel in files, listing
    for rel in (*SECRETS, ".aws", ".ssh", ".git", "certs", "deploy", "notes", "build",
                ".dockerignore", ".lcbuildignore", "requirements.txt"):
        assert rel not in files, f"{rel} is in the image: {listing}"
    assert "markupsafe" in files  # the dependency stage's output did arrive
    secrets_found = run_in(docker_client, image_id,
                           "grep -rl SECRET /var/task 2>/dev/null; echo done")
    assert secrets_found.strip() == "done"


def test_no_ca_reaches_the_final_image(made: Made, docker_client: Any) -> None:
    # The dependency stage did trust the CA (so the scan below looks for the right bytes)...
    _, jobs, _ = api.plan_images(app_load.load(made.app_file), made.options,
                                 Engine(build.connect()))
    deps = jobs["keeper"].deps
    assert deps is not None
    found = run_in(docker_client, deps.tag,
                   f"grep -rlF '{made.ca_marker.decode()}' /opt/lcbuild; echo done")
    assert "/opt/lcbuild/ca-bundle.pem" in found.split(), found
    # ...and the final image holds it nowhere: its whole file system, file by file.
    image = docker_client.images.get(made.result.image("keeper").image_id)
    env = " ".join(image.attrs["Config"].get("Env") or [])
    assert "PIP_CERT" not in env and "SSL_CERT_FILE" not in env
    container = docker_client.containers.create(image.id, command=["true"])
    try:
        stream = io.BufferedReader(_Chunks(container.export()), buffer_size=1 << 20)
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                if member.isfile():
                    data = archive.extractfile(member)
                    assert data is not None
                    assert made.ca_marker not in data.read(), member.name
                assert not member.name.startswith("opt/lcbuild"), member.name
    finally:
        container.remove(force=True)


class _Chunks(io.RawIOBase):
    """A readable stream over the engine's export chunks."""

    def __init__(self, chunks: Any) -> None:
        self._chunks = iter(chunks)
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            try:
                self._left = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def test_building_without_the_ca_rebuilds_nothing(made: Made, docker_client: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    deps_before = {i.id for i in docker_client.images.list(name="lambda-complex/deps")}
    monkeypatch.delenv(CA_CERT_ENV, raising=False)
    again = api.build_images(app_load.load(made.app_file),
                             dataclasses.replace(made.options, ca_certs=()))
    assert again.ok, [(i.status, i.reason, i.error, i.log_tail) for i in again.images]
    assert {i.name: (i.status, i.tag) for i in again.images} == {
        i.name: ("skipped", i.tag) for i in made.result.images}
    assert {i.id for i in docker_client.images.list(name="lambda-complex/deps")} == deps_before


def test_ca_from_the_environment_changes_no_tag(made: Made,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CA_CERT_ENV, str(made.options.ca_certs[-1]))
    outcome = CliRunner().invoke(cli, ["images", "--app", str(made.app_file), "--dry-run",
                                       "--base-image", made.options.base_image or ""])
    assert outcome.exit_code == 0, outcome.output
    tags = {i.name: i.tag for i in made.result.images}
    for name, tag in tags.items():
        assert f"{name:<16} skip  already built locally as {tag}" in outcome.stdout


def test_bad_ca_in_the_environment_is_one_sentence(made: Made, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    not_pem = tmp_path / "corp.crt"
    not_pem.write_text("hello\n")
    monkeypatch.setenv(CA_CERT_ENV, str(not_pem))
    outcome = CliRunner().invoke(cli, ["images", "--app", str(made.app_file), "--dry-run",
                                       "--base-image", made.options.base_image or ""])
    assert outcome.exit_code == 1
    assert outcome.stderr.strip().splitlines() == [
        f"error: {CA_CERT_ENV} {not_pem}: not a PEM certificate file"]


def test_missing_base_image_is_one_sentence(made: Made) -> None:
    missing = f"lcbuild-test/no-such-base:{uuid.uuid4().hex[:8]}"
    outcome = CliRunner().invoke(cli, ["images", "--app", str(made.app_file), "--dry-run",
                                       "--base-image", missing])
    assert outcome.exit_code == 1 and isinstance(outcome.exception, SystemExit)
    lines = outcome.stderr.strip().splitlines()
    assert lines == [f"error: base image {missing} is not in the Docker engine and lcbuild "
                     f"never pulls: run `docker pull {missing}` first, or choose another with "
                     "--base-image"]
