"""`lcbuild render`: the three stack templates offline, with no credentials and no AWS endpoint
that answers, checked by the real cfn-lint CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lambda_complex.builder.cfn import render as cfn_render
from lambda_complex.builder.images import manifest
from lambda_complex.builder.local.aws.emulator import free_port
from tests.images.conftest import copy_app

STACKS = ("sitegen-queues", "sitegen-functions", "sitegen-coordinator")
DIGEST = "sha256:" + "ab" * 32
CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No credentials anywhere, and every AWS endpoint a closed loopback port: any AWS call
    fails, so a render that succeeds made none."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_EC2_METADATA_DISABLED="true",
               AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
    return env


def lcbuild(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lambda_complex.builder.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, check=False, timeout=120)


def image_uris(template: dict[str, Any]) -> dict[str, str]:
    return {r["Properties"]["FunctionName"]: r["Properties"]["Code"]["ImageUri"]
            for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"}


def test_render_offline_writes_linted_templates_pinned_by_digest(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    # render and the coordinator were pushed; ingest was built but not pushed; the rest never
    # built.
    entries = {
        "render": manifest.entry(repository="123456789012.dkr.ecr.eu-west-1.amazonaws.com/"
                                 "sitegen/render", tag="t1", digest=DIGEST, image_id=None,
                                 content_hash="h", platform="linux/amd64", inputs={}),
        "coordinator": manifest.entry(repository="127.0.0.1:5000/sitegen/coordinator", tag="t2",
                                      digest=DIGEST, image_id=None, content_hash="h",
                                      platform="linux/amd64", inputs={}),
        "ingest": manifest.entry(repository="lambda-complex/sitegen/ingest", tag="t3",
                                 digest=None, image_id="sha256:1", content_hash="h",
                                 platform="linux/amd64", inputs={}),
    }
    manifest.write(manifest.path_for(app_file.parent), "sitegen", entries)
    out = tmp_path / "rendered"
    done = lcbuild(["render", "--out", str(out)], app_file.parent, offline_env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    paths = [out / f"{name}.json" for name in STACKS]
    assert done.stdout.splitlines() == [str(p) for p in paths]
    templates = {p.stem: json.loads(p.read_text()) for p in paths}
    assert all(t["Resources"] for t in templates.values())

    placeholder = (f"{cfn_render.PLACEHOLDER_REPOSITORY}/sitegen/{{}}"
                   f"@{cfn_render.PLACEHOLDER_DIGEST}")
    assert image_uris(templates["sitegen-functions"]) == {
        "sitegen-render": f"{entries['render']['repository']}@{DIGEST}",
        "sitegen-ingest": placeholder.format("ingest"),  # no digest: not deployable as is
        "sitegen-search-index": placeholder.format("search-index"),
        "sitegen-toc": placeholder.format("toc"),
        "sitegen-publish": placeholder.format("publish"),
    }
    coordinator = f"127.0.0.1:5000/sitegen/coordinator@{DIGEST}"
    assert image_uris(templates["sitegen-coordinator"]) == {
        "sitegen-coordinator": coordinator, "sitegen-invoker": coordinator}
    queue_types = {r["Type"] for r in templates["sitegen-queues"]["Resources"].values()}
    assert "AWS::SQS::Queue" in queue_types

    # the real cfn-lint CLI, as a policy pipeline would run it
    linted = subprocess.run([str(CFN_LINT), *map(str, paths), "--regions", "eu-west-1"],
                            capture_output=True, text=True, check=False, timeout=300)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_render_defaults_to_lcbuild_render_and_prints_json(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")  # no manifest at all: every image a placeholder
    done = lcbuild(["render", "--json"], app_file.parent, offline_env(tmp_path))
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)
    folder = app_file.parent / ".lcbuild" / "render"
    assert written == {name: str(folder / f"{name}.json") for name in STACKS}
    functions = json.loads((folder / "sitegen-functions.json").read_text())
    assert set(image_uris(functions).values()) == {
        f"{cfn_render.PLACEHOLDER_REPOSITORY}/sitegen/{c}@{cfn_render.PLACEHOLDER_DIGEST}"
        for c in ("ingest", "render", "search-index", "toc", "publish")}


def test_render_into_an_unwritable_place_is_one_sentence(tmp_path: Path) -> None:
    app_file = copy_app(tmp_path / "app")
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = lcbuild(["render", "--out", str(blocker / "sub")], app_file.parent,
                   offline_env(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: --out {blocker / 'sub'}: cannot write the templates (Not a directory)"]
