"""`lcbuild local deploy`: a changed definition applied to a running `lcbuild local run`, through
the same stack group and switchover as a deploy to AWS (both commands as real processes); what
makes a local deploy quick: cfn-lint's findings kept on disk, sceptre started before its
credentials exist."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lambda_complex.builder.cfn import lint
from lambda_complex.builder.local.aws import sceptre_local, stack_group
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


# A queue with a property CloudFormation does not know: cfn-lint's E3002.
UNKNOWN_PROPERTY = json.dumps(
    {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"NoSuchProperty": 1}}}})
# Another process, where cfn-lint cannot be imported: it answers from the kept findings or fails.
LINT_WITHOUT_CFN_LINT = """\
import json, sys
sys.modules["cfnlint.api"] = None
from lambda_complex.builder.cfn import lint
print(json.dumps(lint.findings(sys.argv[1], "eu-west-1")))
"""


def test_lint_findings_are_kept_so_an_unchanged_template_is_not_linted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(lint.CACHE_ENV, str(tmp_path / "lint"))
    found = lint.findings(UNKNOWN_PROPERTY, "eu-west-1")
    assert [f.split()[0] for f in found] == ["E3002"], found

    again = subprocess.run([sys.executable, "-c", LINT_WITHOUT_CFN_LINT, UNKNOWN_PROPERTY],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == found

    changed = UNKNOWN_PROPERTY.replace("NoSuchProperty", "OtherProperty")
    fresh = subprocess.run([sys.executable, "-c", LINT_WITHOUT_CFN_LINT, changed],
                           capture_output=True, text=True, timeout=60)
    assert fresh.returncode != 0 and "cfnlint.api" in fresh.stderr  # linted: needs cfn-lint


def test_sceptre_waits_for_the_credentials_file_and_reads_it_once(tmp_path: Path) -> None:
    path = tmp_path / "deployer.json"
    taken, rest = sceptre_local.take_env_from(["--env-from", str(path), "--dir", "x", "launch"])
    assert (taken, rest) == (path, ["--dir", "x", "launch"])
    assert sceptre_local.take_env_from(["launch"]) == (None, ["launch"])

    stack_group.write_env(path, {"AWS_ACCESS_KEY_ID": "AKIA1"})
    assert path.stat().st_mode & 0o077 == 0  # credentials: this user only
    assert sceptre_local.wait_for_env(path, timeout=5) == {"AWS_ACCESS_KEY_ID": "AKIA1"}
    assert not path.exists()
    with pytest.raises(SystemExit, match="did not appear"):
        sceptre_local.wait_for_env(path, timeout=0.1)
