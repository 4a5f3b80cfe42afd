"""`lcbuild images --push` then `sceptre launch prod`: the stacks deploy exactly the pushed
digests the build manifest records (the real sceptre CLI against the emulator).

The CLI runs as local deploys run it (`local/aws/sceptre_local`: the same `sceptre.cli.cli`,
plugins and hooks, its 4 s status polls capped, since the emulator finishes every stack
operation within the call); the stock, uncapped polls run in tests/stacks/test_sceptre_emulator.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3

from lambda_complex.builder.images import manifest
from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.runtime import names
from tests.images.conftest import ROOT, Built

SCEPTRE = [sys.executable, "-m", "lambda_complex.builder.local.aws.sceptre_local"]


def test_sceptre_deploys_the_pushed_digests(aws: Emulator, built: Built, tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(built.app_file.parent, project)  # definition, components, .lcbuild manifest
    shutil.copytree(ROOT / "config", project / "config")
    entries = manifest.read(manifest.path_for(project))
    assert set(entries) == {"ingest", "render", "search-index", "toc", "publish", "coordinator"}

    done = subprocess.run([*SCEPTRE, "--dir", str(project), "launch", "-y", "prod"],
                          env=dict(os.environ), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    client = boto3.client("lambda")
    for name, entry in entries.items():
        expected = f"{entry['repository']}@{entry['digest']}"
        functions = [names.COORDINATOR, names.INVOKER] if name == names.COORDINATOR else [name]
        for function in functions:
            code = client.get_function(FunctionName=names.function_name("sitegen", function))
            assert code["Code"]["ImageUri"] == expected, function
