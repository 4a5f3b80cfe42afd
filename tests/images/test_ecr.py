"""The ECR edge against the emulator's ECR API (moto has no registry v2 API, so no push here):
repository settings, the in-memory authorization, digest lookups by tag."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from lambda_complex.builder.images import registry
from lambda_complex.builder.local.aws.emulator import Emulator


def test_ensure_repository_enforces_immutable_scanned_and_expiring(aws: Emulator) -> None:
    ecr = registry.EcrRegistry(aws.region)
    repository = ecr.repository("sitegen", "Render")
    assert repository.endswith("/sitegen/render")  # ECR names are lowercase
    ecr.ensure_repository(repository)
    ecr.ensure_repository(repository)  # idempotent: a second deploy changes nothing
    client = boto3.client("ecr", region_name=aws.region)
    described = client.describe_repositories(repositoryNames=["sitegen/render"])["repositories"]
    assert described[0]["imageTagMutability"] == "IMMUTABLE"
    assert described[0]["imageScanningConfiguration"]["scanOnPush"] is True
    policy = json.loads(client.get_lifecycle_policy(repositoryName="sitegen/render")[
        "lifecyclePolicyText"])
    assert policy == registry.ECR_LIFECYCLE_POLICY
    assert policy["rules"][0]["selection"]["tagStatus"] == "untagged"


def test_authorization_stays_in_memory(aws: Emulator, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / ".docker"))
    ecr = registry.EcrRegistry(aws.region)
    auth = ecr.auth_config()
    assert auth["username"] == "AWS" and auth["password"]
    assert auth["serveraddress"] == ecr.host
    assert not any(tmp_path.rglob("*")), "no credential file may be written"


def test_digest_by_tag(aws: Emulator) -> None:
    ecr = registry.EcrRegistry(aws.region)
    repository = ecr.repository("sitegen", "publish")
    ecr.ensure_repository(repository)
    assert ecr.digest(repository, "0" * 32) is None
    assert ecr.digest(ecr.repository("sitegen", "nothing-here"), "x") is None
    manifest = json.dumps({"schemaVersion": 2, "config": {}, "layers": [],
                           "mediaType": "application/vnd.docker.distribution.manifest.v2+json"})
    pushed = boto3.client("ecr", region_name=aws.region).put_image(
        repositoryName="sitegen/publish", imageManifest=manifest, imageTag="abc")
    # The registry's own digest for the tag (moto computes it its own way; ECR hashes the bytes).
    assert ecr.digest(repository, "abc") == pushed["image"]["imageId"]["imageDigest"]
