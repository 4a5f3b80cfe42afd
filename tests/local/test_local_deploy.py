"""`lcbuild local deploy`: a changed definition applied to a running `lcbuild local run`, through
the same stack group and switchover as a deploy to AWS (both commands as real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lambda_complex.builder.local.run import files as run_files

LCBUILD = str(Path(sys.executable).with_name("lcbuild"))
APP = """\
name: redeploy
version: 0.1.0
deployment: {region: eu-west-1, registry: ecr}
coordinator: {concurrency: 1, min_interval: 1, timeout: 20}
components:
  - name: first
    type: event_from_invocation
    lambda: {path: code, handler: fns.handler, timeout: 5}
"""


def test_local_deploy_applies_a_changed_definition_to_the_running_run(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "fns.py").write_text("def handler(event, context):\n    return None\n")
    definition = tmp_path / "lambda-complex.yaml"
    definition.write_text(APP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    run = subprocess.Popen([LCBUILD, "local", "run", "--mode", "process", "--timeout", "300"],
                           cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        endpoints = run_files.endpoint_path(tmp_path)
        deadline = time.monotonic() + 240
        while not endpoints.exists():
            assert run.poll() is None and time.monotonic() < deadline, run.stdout
            time.sleep(0.5)
        assert json.loads(endpoints.read_text())["pid"] == run.pid

        definition.write_text(APP + "    renamed_from: [gone]\n  - name: second\n"
                              "    type: event_from_invocation\n"
                              "    lambda: {path: code, handler: fns.handler, timeout: 5}\n")
        done = subprocess.run([LCBUILD, "local", "deploy"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "redeployed" in done.stdout

        definition.write_text(APP.replace("event_from_invocation", "no_such_type"))
        bad = subprocess.run([LCBUILD, "local", "deploy"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1 and "components[0].type" in bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        run.send_signal(signal.SIGTERM)
        output, _ = run.communicate(timeout=60)
    assert "redeploying the changed definition" in output
    assert "second" in output  # the run's report names the new component
