"""`lcbuild doctor`: its decisions (pure), the checks against the emulator, and the deployer
policy it prints, held against what the rendered stacks create."""

from __future__ import annotations

import fnmatch
import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from click.testing import CliRunner, Result

from lambda_complex.builder.app import load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, limits, render
from lambda_complex.builder.cli import cli
from lambda_complex.builder.deploy import deployer_policy, doctor
from lambda_complex.builder.local.aws.emulator import Emulator
from tests.app.conftest import valid, write_app_tree
from tests.stacks.conftest import fake_images, push_repositories

STANDIN_BASE = "lambda-complex/standin-base:latest"


def run_doctor(project: Path, *options: str) -> Result:
    return CliRunner().invoke(cli, ["doctor", *options, "--app",
                                    str(project / "lambda-complex.yaml")])


def _big_app(tmp_path: Path, components: int) -> App:
    data = valid()
    template = data["components"][1]
    data["components"] = data["components"][:1] + [
        {**template, "name": f"step-{i}", "routing": "notify" if i else "bill"}
        for i in range(components)] + data["components"][1:]
    write_app_tree(tmp_path)
    path = tmp_path / "lambda-complex.yaml"
    path.write_text(yaml.safe_dump(data))
    return load.load(path)


def test_concurrency_keeps_a_hundred_unreserved(example_app: App) -> None:
    wanted = doctor.reserved_by(example_app)
    assert wanted == 2 + 3 + 1 + 2 + 4
    # a new account: limit 10, all unreserved, nothing of ours deployed
    check = doctor.concurrency_check(example_app, 10, 10, 0)
    assert not check.ok and "lower max_concurrency" in check.detail and "100" in check.detail
    assert doctor.concurrency_check(example_app, 1000, 1000, 0).ok
    # a redeploy: our own reservations come back first
    assert doctor.unreserved_after(100, 12, 12) == 100
    assert doctor.concurrency_check(example_app, 1000, 100, 12).ok
    assert not doctor.concurrency_check(example_app, 1000, 100, 0).ok


def test_template_size_over_the_inline_limit_names_the_fix(tmp_path: Path) -> None:
    app = _big_app(tmp_path, 12)
    images = fake_images(app)
    body = render.to_json(render.render(app, common.FUNCTIONS, images))
    assert limits.body_size(body) > limits.TEMPLATE_BODY_MAX  # 15 components: over
    check = doctor.template_size_check(app, images, None)
    assert not check.ok and "template_bucket_name" in check.detail
    assert "shop-functions" in check.detail
    with pytest.raises(limits.TemplateTooLarge, match=r"config/config\.yaml"):
        limits.check_size("shop-functions", body, None)
    assert doctor.template_size_check(app, images, "my-templates").ok
    assert limits.size_problem("x", "a" * limits.TEMPLATE_URL_MAX, "b") is not None


def test_template_bucket_is_read_from_the_sceptre_config(project: Path) -> None:
    assert doctor.template_bucket_of(project) is None
    config = project / "config" / "config.yaml"
    config.write_text(config.read_text() + "template_bucket_name: my-templates\n")
    assert doctor.template_bucket_of(project) == "my-templates"


def test_doctor_against_the_emulator(aws: Emulator, project: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LCBUILD_BASE_IMAGE", os.environ.get("LCBUILD_BASE_IMAGE", STANDIN_BASE))
    result = run_doctor(project)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("ok   credentials: ") and "123456789012" in line
               for line in lines)
    assert "FAIL ECR: repository sitegen/coordinator does not exist" in result.output
    assert "lcbuild images --push" in result.output

    push_repositories(project)
    result = run_doctor(project)
    assert result.exit_code == 0, result.output
    checks = {c["name"] for c in json.loads(run_doctor(project, "--json").output)}
    assert checks == {"credentials", "concurrency", "ECR", "template sizes",
                      "queue message size", "docker", "base image"}
    assert "ok   ECR: 6 repositories exist and let Lambda pull" in result.output

    # a queue made before SQS took 1 MiB (its limit was 256 KiB) keeps the old size
    boto3.client("sqs").create_queue(QueueName="sitegen-render",
                                     Attributes={"MaximumMessageSize": "262144"})
    result = run_doctor(project)
    assert result.exit_code == 1
    assert "FAIL queue message size:" in result.output and "sitegen-render (262,144 B)" in (
        result.output)


def test_doctor_without_credentials_says_what_to_do(project: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(project / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(project / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing answers: no network
    result = run_doctor(project)
    assert result.exit_code == 1
    assert "FAIL credentials: cannot call STS in eu-west-1" in result.output
    assert "Traceback" not in result.output


_CREATES = {
    "AWS::SQS::Queue": ("sqs:CreateQueue", "sqs", lambda p: p["QueueName"]),
    "AWS::Lambda::Function": ("lambda:CreateFunction", "lambda",
                              lambda p: "function:" + p["FunctionName"]),
    "AWS::IAM::Role": ("iam:CreateRole", "iam", lambda p: "role/" + p["RoleName"]),
    "AWS::Logs::LogGroup": ("logs:CreateLogGroup", "logs",
                            lambda p: "log-group:" + p["LogGroupName"]),
    "AWS::Events::Rule": ("events:PutRule", "events", lambda p: "rule/" + p["Name"]),
    "AWS::SSM::Parameter": ("ssm:PutParameter", "ssm", lambda p: "parameter" + p["Name"]),
}


def _allows(policy: dict[str, Any], action: str, arn: str) -> bool:
    return any(fnmatch.fnmatchcase(action, a) and any(fnmatch.fnmatchcase(arn, r)
                                                       for r in s["Resource"])
               for s in policy["Statement"] for a in s["Action"])


def test_deployer_policy_allows_creating_every_resource_of_the_stacks(example_app: App) -> None:
    policy = deployer_policy.deployer_policy(example_app, "123456789012")
    images = fake_images(example_app)
    seen = set()
    for stack in common.STACKS:
        template = render.render(example_app, stack, images)
        for resource in template["Resources"].values():
            if resource["Type"] not in _CREATES:
                continue
            action, service, resource_of = _CREATES[resource["Type"]]
            region = "" if service == "iam" else "eu-west-1"
            arn = f"arn:aws:{service}:{region}:123456789012:{resource_of(resource['Properties'])}"
            assert _allows(policy, action, arn), (action, arn)
            seen.add(resource["Type"])
    assert seen == set(_CREATES)
    assert _allows(policy, "iam:PassRole", "arn:aws:iam::123456789012:role/sitegen-render")
    assert _allows(policy, "ecr:SetRepositoryPolicy",
                   "arn:aws:ecr:eu-west-1:123456789012:repository/sitegen/render")
    assert not _allows(policy, "sqs:CreateQueue", "arn:aws:sqs:eu-west-1:123456789012:other")
    assert not any(a.endswith(":*") or a == "*" for s in policy["Statement"]
                   for a in s["Action"])


def test_policy_option_prints_the_document(project: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    result = CliRunner().invoke(cli, ["doctor", "--policy", "--app",
                                      str(project / "lambda-complex.yaml")])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert {s["Sid"] for s in document["Statement"]} >= {"Stacks", "Queues", "Functions"}
    assert "arn:aws:lambda:eu-west-1:*:function:sitegen-render" in json.dumps(document)
