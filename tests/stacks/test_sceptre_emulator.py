"""The real `sceptre` CLI against moto in server mode: launch, a failed update, a switchover,
removing a component, delete; bad input refused before anything is created.

The CLI runs as the local deploys run it (`local/aws/sceptre_local`): the same `sceptre.cli.cli`,
plugins and hooks, its 4 s status-poll sleeps capped, since the emulator finishes every stack
operation within the call. The first deploy goes through `api.deploy`, the stock `sceptre launch`
with its uncapped polls.

moto cannot show what it drops (PackageType Image, Architectures, EventInvokeConfig, ...): the
render tests cover those. moto does not roll back a failed update either: the failed deploy here
fails in a hook between stacks, which is where Sceptre's own failure handling matters to us.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner, Result

from lambda_complex.builder import api
from lambda_complex.builder.cli import cli
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local.aws.emulator import Emulator
from tests.stacks.conftest import push_repositories, write_manifest

pytestmark = pytest.mark.emulator

# The sceptre CLI with its status polls capped (see the module's docstring).
SCEPTRE = [sys.executable, "-m", "lambda_complex.builder.local.aws.sceptre_local"]
STACKS = ("sitegen-queues", "sitegen-functions", "sitegen-coordinator")
CONTROL = "/lambda-complex/sitegen/control"

SWITCHOVER_MODULE = '''
import json, pathlib
def switchover(old_url, new_url):
    with open(pathlib.Path(__file__).parent / "calls.jsonl", "a") as f:
        f.write(json.dumps([old_url, new_url]) + "\\n")
'''


def sceptre(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    try:
        return subprocess.run([*SCEPTRE, "--dir", str(project), *args],
                              env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=300, check=False)
    finally:
        print(f"sceptre {' '.join(args)}: {time.monotonic() - started:.1f} s")  # pytest -s


def edit_definition(project: Path, change: Any) -> None:
    path = project / "lambda-complex.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    write_manifest(project, [c["name"] for c in data["components"]])
    push_repositories(project)  # as `lcbuild images --push` would, for a renamed component too


def edit_stack_config(project: Path, stack: str, change: Any) -> None:
    path = project / "config" / "prod" / f"{stack}.yaml"
    path.write_text(change(path.read_text()))


class Account:
    def __init__(self) -> None:
        self.sqs = boto3.client("sqs")
        self.ssm = boto3.client("ssm")
        self.cfn = boto3.client("cloudformation")
        self.lam = boto3.client("lambda")

    def queues(self) -> set[str]:
        urls = self.sqs.list_queues(QueueNamePrefix="sitegen").get("QueueUrls", [])
        return {u.rsplit("/", 1)[1] for u in urls}

    def url(self, name: str) -> str:
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    def send(self, name: str, count: int) -> None:
        for i in range(count):
            self.sqs.send_message(QueueUrl=self.url(name), MessageBody=json.dumps({"n": i}))

    def depth(self, name: str) -> int:
        a = self.sqs.get_queue_attributes(QueueUrl=self.url(name), AttributeNames=["All"])
        return int(a["Attributes"]["ApproximateNumberOfMessages"]) + int(
            a["Attributes"]["ApproximateNumberOfMessagesNotVisible"])

    def bodies(self, name: str) -> list[int]:
        """Every message's body (`n`), left in the queue and visible again."""
        got: list[Any] = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.url(name), MaxNumberOfMessages=10,
                                            VisibilityTimeout=300).get("Messages", [])
            if not msgs:
                break
            got += msgs
        for m in got:
            self.sqs.change_message_visibility(QueueUrl=self.url(name), VisibilityTimeout=0,
                                               ReceiptHandle=m["ReceiptHandle"])
        return sorted(json.loads(m["Body"])["n"] for m in got)

    def control(self) -> str:
        return str(self.ssm.get_parameter(Name=CONTROL)["Parameter"]["Value"])

    def stacks(self) -> dict[str, str]:
        return {s["StackName"]: s["StackStatus"] for s in self.cfn.describe_stacks()["Stacks"]
                if s["StackStatus"] != "DELETE_COMPLETE"}

    def functions(self) -> set[str]:
        return {f["FunctionName"] for f in self.lam.list_functions()["Functions"]}


def plan(project: Path, *options: str) -> Result:
    """`lcbuild plan` for the project's definition (against the emulator: AWS_ENDPOINT_URL)."""
    return CliRunner().invoke(cli, ["plan", *options, "--app",
                                    str(project / "lambda-complex.yaml")])


def cli_status(project: Path) -> dict[str, Any]:
    done = CliRunner().invoke(cli, ["status", "--json", "--app",
                                    str(project / "lambda-complex.yaml")])
    assert done.exit_code == 0, done.output
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def failed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout + result.stderr


def test_launch_switchover_remove_and_delete(aws: Emulator, project: Path) -> None:
    account = Account()
    push_repositories(project)

    # 1. first deploy, through the Python API (`api.deploy` runs this same `sceptre launch -y
    # prod`); what `api.status` returns is what `lcbuild status --json` prints
    assert "sitegen is not deployed: the first deploy creates 11 queue(s)" in plan(project).output
    app = api.load(project / "lambda-complex.yaml")
    api.deploy(app)
    status = api.status(app)
    assert status.control == "running" and sorted(status.stacks) == sorted(STACKS)
    assert [c.name for c in status.components] == list(app.component_names)
    assert cli_status(project) == status.to_dict()
    assert api.pause(app).control == ("running", "paused")
    assert cli_status(project)["control"] == "paused"
    assert api.resume(app).control == ("paused", "running")
    assert cli_status(project)["control"] == "running"
    unchanged = plan(project).output.splitlines()
    assert unchanged[1:] == [
        f"  pause   dispatching ({CONTROL}: running -> deploying)",
        f"  resume  dispatching ({CONTROL}: deploying -> running)",
        "  start   the coordinator's schedule now (sitegen-coordinator), not at its next minute",
        "  queues  no change"]
    assert set(account.stacks()) == set(STACKS)
    assert account.control() == "running"
    assert {"sitegen-render", "sitegen-render-dlq", "sitegen-render-inflight",
            "sitegen-toc-dlq"} <= account.queues()
    assert {"sitegen-render", "sitegen-coordinator", "sitegen-invoker"} <= account.functions()
    policy = boto3.client("iam").get_role_policy(RoleName="sitegen-render",
                                                 PolicyName="least-privilege")
    assert "sitegen-search-index" in json.dumps(policy["PolicyDocument"])
    status = CliRunner().invoke(cli, ["status", "--json", "--app",
                                      str(project / "lambda-complex.yaml")])
    assert status.exit_code == 0, status.output
    report = json.loads(status.output)
    assert report["control"] == "running"
    assert {c["name"]: c["limit"] for c in report["components"]}["render"] == 3

    account.send("sitegen-render", 5)
    account.send("sitegen-render-dlq", 2)

    # 2. a change that replaces render's queues (new name), deployed by a run that fails between
    #    the queues and the functions stack: the old queue keeps its messages, the old functions
    #    stay, and dispatching (paused during the run) is restored.
    def rename(data: dict[str, Any]) -> None:
        data["deployment"]["switchover"] = "lc_switch:switchover"
        for c in data["components"]:
            if c["name"] == "render":  # a real rename, declared: the queues pass to "pages"
                c["name"], c["renamed_from"] = "pages", "render"
            if c["name"] == "ingest":
                c["routing"]["targets"] = ["pages", "toc"]

    (project / "lc_switch.py").write_text(SWITCHOVER_MODULE)
    edit_definition(project, rename)
    preview = json.loads(plan(project, "--json").output)
    steps = preview["steps"]
    assert sorted(s["name"] for s in steps if s["step"] == "create") == [
        "sitegen-pages", "sitegen-pages-dlq", "sitegen-pages-inflight"]
    assert {(m["source"], m["target"], m["messages"], m["why"], m["notify"])
            for m in steps if m["step"] == "move"} == {
        ("sitegen-render", "sitegen-pages", 5, "renamed", True),
        ("sitegen-render-dlq", "sitegen-pages-dlq", 2, "renamed", False)}
    assert {r["name"] for s in steps if s["step"] == "remove" for r in s["queues"]} == {
        "sitegen-render", "sitegen-render-dlq", "sitegen-render-inflight"}
    assert preview["refused"] == []
    (project / "observe.sh").write_text(
        f"{sys.executable} -c \"import boto3; print(boto3.client('ssm').get_parameter("
        f"Name='{CONTROL}')['Parameter']['Value'])\" > {project / 'observed.txt'}\nexit 3\n")
    edit_stack_config(project, "functions", lambda text: text + (
        f"hooks:\n  before_update:\n    - !cmd sh {project / 'observe.sh'}\n"))
    out = failed(sceptre(project, "launch", "-y", "prod"))
    assert (project / "observed.txt").exists(), out[-3000:]
    assert (project / "observed.txt").read_text().strip() == "deploying"  # paused during deploy
    assert account.control() == "running"  # restored although no after hook ran
    assert account.depth("sitegen-render") == 5
    assert "sitegen-render" in account.functions()
    assert not (project / "calls.jsonl").exists()

    # 3. the same change, deployed: messages move to the new queues, none lost
    edit_stack_config(project, "functions", lambda text: text.split("hooks:")[0])
    ok(sceptre(project, "launch", "-y", "prod"))
    assert account.bodies("sitegen-pages") == [0, 1, 2, 3, 4]
    assert account.depth("sitegen-pages-dlq") == 2
    assert not {"sitegen-render", "sitegen-render-dlq", "sitegen-render-inflight"} & (
        account.queues())
    calls = [json.loads(line) for line in (project / "calls.jsonl").read_text().splitlines()]
    assert len(calls) == 1
    assert calls[0][0].endswith("/sitegen-render") and calls[0][1].endswith("/sitegen-pages")
    assert account.control() == "running"

    # 4. removing a component whose queue holds messages: refused before anything changes
    account.send("sitegen-search-index", 3)

    def remove_search_index(data: dict[str, Any]) -> None:
        data["components"] = [c for c in data["components"] if c["name"] != "search-index"]
        for c in data["components"]:
            if c["name"] == "pages":
                c["routing"] = "publish"

    edit_definition(project, remove_search_index)
    refused = plan(project)
    assert refused.exit_code == 1 and "REFUSED component 'search-index' is removed" in (
        refused.output)
    forced = plan(project, "--force-remove")
    assert forced.exit_code == 0, forced.output
    assert ("  move    sitegen-search-index -> sitegen-search-index-dlq (3 message(s); "
            "component removed)") in forced.output
    out = failed(sceptre(project, "launch", "-y", "prod"))
    assert "sitegen-search-index holds 3 message(s)" in out and "LCBUILD_FORCE_REMOVE" in out
    assert "Traceback" not in out
    assert "sitegen-search-index" in account.functions()
    assert account.control() == "running"

    # 5. forced: the messages are kept in the component's dead-letter queue
    ok(sceptre(project, "launch", "-y", "prod", LCBUILD_FORCE_REMOVE="1"))
    assert "sitegen-search-index" not in account.functions()
    assert "sitegen-search-index" not in account.queues()
    assert account.depth("sitegen-search-index-dlq") == 3

    # 6. delete: refused while input queues hold messages; forced, they go to the DLQs, which stay
    account.send("sitegen-pages", 4)
    out = failed(sceptre(project, "delete", "-y", "prod"))
    assert "sitegen-pages (9 message(s))" in out
    assert set(account.stacks()) == set(STACKS)
    ok(sceptre(project, "delete", "-y", "prod", LCBUILD_FORCE_REMOVE="1"))
    assert account.stacks() == {}
    assert account.queues() == {"sitegen-pages-dlq", "sitegen-search-index-dlq"}
    assert account.depth("sitegen-pages-dlq") == 2 + 5 + 4
    assert account.depth("sitegen-search-index-dlq") == 3
    assert not account.functions()


def test_bad_input_is_refused_before_anything_is_created(aws: Emulator, project: Path) -> None:
    account = Account()
    manifest = project / ".lcbuild" / "images.json"
    data = json.loads(manifest.read_text())
    del data["images"]["toc"]
    manifest.write_text(json.dumps(data))
    out = failed(sceptre(project, "launch", "-y", "prod"))
    assert "no image for 'toc'" in out and "lcbuild images" in out
    assert "Traceback" not in out
    assert account.stacks() == {}
    assert not account.queues()

    out = failed(sceptre(project, "launch", "-y", "staging"))
    assert "staging" in out
    assert account.stacks() == {}
    with pytest.raises(UserError, match="sceptre launch staging failed"):
        api.deploy(api.load(project / "lambda-complex.yaml"), "staging")

    # every image is in the manifest, but never pushed: doctor's deploy checks stop the launch
    write_manifest(project, ["ingest", "render", "search-index", "toc", "publish"])
    out = failed(sceptre(project, "launch", "-y", "prod"))
    assert "preflight: ECR: repository sitegen/coordinator does not exist" in out
    assert "lcbuild images --push" in out and "Traceback" not in out
    assert account.stacks() == {}
