"""Lambda may pull the app's images: ensure_repository sets the repository policy (moto's ECR)."""

from __future__ import annotations

import json

import boto3

from lambda_complex.builder.images import registry
from lambda_complex.builder.local.aws.emulator import Emulator


def test_ensure_repository_lets_this_accounts_functions_pull(aws: Emulator) -> None:
    ecr = registry.EcrRegistry(aws.region)
    repository = ecr.repository("sitegen", "render")
    client = boto3.client("ecr", region_name=aws.region)
    client.create_repository(repositoryName="sitegen/render")  # made elsewhere, no policy
    assert ecr.repository_policy("sitegen/render") is None
    ecr.ensure_repository(repository)
    ecr.ensure_repository(repository)  # idempotent
    text = client.get_repository_policy(repositoryName="sitegen/render")["policyText"]
    (statement,) = json.loads(text)["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(statement["Action"]) == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    account = boto3.client("sts", region_name=aws.region).get_caller_identity()["Account"]
    assert statement["Condition"]["StringLike"]["aws:sourceArn"] == (
        f"arn:aws:lambda:{aws.region}:{account}:function:*")
    assert registry.grants_lambda_pull(ecr.repository_policy("sitegen/render"))
    assert ecr.repository_policy("sitegen/absent") is None


def test_grants_lambda_pull_reads_policies() -> None:
    assert registry.grants_lambda_pull(json.dumps(registry.lambda_pull_policy("eu-west-1", "1")))
    other = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
                            "Action": "ecr:*"}]}
    assert not registry.grants_lambda_pull(json.dumps(other))
    assert not registry.grants_lambda_pull(None) and not registry.grants_lambda_pull("{")
    assert registry.lambda_pull_policy("cn-north-1", "1")["Statement"][0]["Condition"][
        "StringLike"]["aws:sourceArn"].startswith("arn:aws-cn:lambda:cn-north-1:1:")
