"""Registries: Amazon ECR (`ecr`) and any OCI registry `host[:port][/prefix]`.

The edge between the builder and a registry: repository names, "is this tag there, with which
digest?" (a manifest HEAD: nothing is pulled), credentials for the Docker SDK's `auth_config`
(never `docker login`, never a credential file), and for ECR the repository's settings.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from lambda_complex.builder.app import naming
from lambda_complex.builder.errors import UserError

USERNAME_ENV = "LCBUILD_REGISTRY_USERNAME"
PASSWORD_ENV = "LCBUILD_REGISTRY_PASSWORD"
# Without an explicit Accept, distribution converts to schema 1 and reports another digest; an
# index type is listed so a multi-platform tag is recognised (and then refused by Lambda's rules).
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
])
HEAD_TIMEOUT = 10.0
# Untagged images are unreferenced: every image lcbuild pushes is tagged with its content hash.
ECR_LIFECYCLE_POLICY = {
    "rules": [{
        "rulePriority": 1,
        "description": "Expire untagged images (lcbuild tags every image it pushes)",
        "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                      "countUnit": "days", "countNumber": 1},
        "action": {"type": "expire"},
    }]
}

LAMBDA_PULL_SID = "LambdaImagePull"


def partition_of(region: str) -> str:
    """The AWS partition of a region (ARNs differ: `arn:aws-cn:...`)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def lambda_pull_policy(region: str, account: str) -> dict[str, Any]:
    """The repository policy Lambda needs to pull an image for a function of this account.

    Lambda pulls with its service principal, so a repository without this statement makes
    CreateFunction / UpdateFunctionCode fail unless the deployer may set it on the fly
    (https://docs.aws.amazon.com/lambda/latest/dg/images-create.html#configuration-images-permissions);
    the `aws:sourceArn` condition keeps other accounts' functions out."""
    functions = f"arn:{partition_of(region)}:lambda:{region}:{account}:function:*"
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": LAMBDA_PULL_SID,
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {"StringLike": {"aws:sourceArn": functions}},
        }],
    }


def grants_lambda_pull(policy_text: str | None) -> bool:
    """Whether a repository policy lets lambda.amazonaws.com pull (what doctor checks)."""
    if not policy_text:
        return False
    try:
        statements = json.loads(policy_text).get("Statement", [])
    except (ValueError, AttributeError):
        return False
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if (statement.get("Effect") == "Allow" and "lambda.amazonaws.com" in services
                and {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"} <= set(actions)):
            return True
    return False


class Registry(Protocol):
    def repository(self, app: str, component: str) -> str: ...

    def digest(self, repository: str, tag: str) -> str | None: ...

    def auth_config(self) -> dict[str, str] | None: ...

    def ensure_repository(self, repository: str) -> None: ...


def is_loopback(host: str) -> bool:
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:host.index("]")]
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _split(registry: str) -> tuple[str, str]:
    host, _, prefix = registry.partition("/")
    return host, prefix.strip("/")


class OciRegistry:
    """A registry speaking the distribution (OCI) API. Loopback registries use plain HTTP, like
    dockerd's default insecure range 127.0.0.0/8; every other host uses HTTPS."""

    def __init__(self, registry: str, username: str | None = None,
                 password: str | None = None) -> None:
        self.host, self.prefix = _split(registry)
        self.scheme = "http" if is_loopback(self.host) else "https"
        self.username = username if username is not None else os.environ.get(USERNAME_ENV)
        self.password = password if password is not None else os.environ.get(PASSWORD_ENV)
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def repository(self, app: str, component: str) -> str:
        path = naming.ecr_repository_name(app, component)
        return f"{self.host}/{self.prefix}/{path}" if self.prefix else f"{self.host}/{path}"

    def auth_config(self) -> dict[str, str] | None:
        if self.username is None or self.password is None:
            return None
        return {"username": self.username, "password": self.password,
                "serveraddress": self.host}

    def ensure_repository(self, repository: str) -> None:
        """OCI registries create repositories on push."""

    def _basic(self) -> str | None:
        if self.username is None or self.password is None:
            return None
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _bearer(self, challenge: str) -> str | None:
        """Token auth (Docker Hub style): fetch a token from the realm the 401 names."""
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", None)
        if realm is None:
            return None
        key = json.dumps(params, sort_keys=True)
        with self._lock:
            if key in self._tokens:
                return self._tokens[key]
        request = urllib.request.Request(realm + "?" + urllib.parse.urlencode(params))
        basic = self._basic()
        if basic:
            request.add_header("Authorization", basic)
        with urllib.request.urlopen(request, timeout=HEAD_TIMEOUT) as response:
            body = json.loads(response.read())
        token = "Bearer " + str(body.get("token") or body.get("access_token"))
        with self._lock:
            self._tokens[key] = token
        return token

    def digest(self, repository: str, tag: str) -> str | None:
        path = repository.removeprefix(self.host + "/")
        url = f"{self.scheme}://{self.host}/v2/{path}/manifests/{tag}"
        authorization = self._basic()
        for _ in range(2):
            request = urllib.request.Request(url, method="HEAD",
                                             headers={"Accept": MANIFEST_ACCEPT})
            if authorization:
                request.add_header("Authorization", authorization)
            try:
                with urllib.request.urlopen(request, timeout=HEAD_TIMEOUT) as response:
                    found = response.headers.get("Docker-Content-Digest")
                    return None if found is None else str(found)
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    return None
                challenge = e.headers.get("WWW-Authenticate", "")
                if e.code == 401 and challenge.lower().startswith("bearer"):
                    authorization = self._bearer(challenge)
                    continue
                raise UserError(f"registry {self.host}: HEAD {url} answered {e.code} {e.reason}"
                                ) from e
            except OSError as e:
                raise UserError(f"registry {self.host} is not reachable ({e}); start it or "
                                "choose another with --registry") from e
        raise UserError(f"registry {self.host} refused the credentials for {repository} "
                        f"(set {USERNAME_ENV} and {PASSWORD_ENV})")


class EcrRegistry:
    """Amazon ECR in the deployment's region. Credentials come from boto3's usual chain; the
    registry password is a 12-hour token from GetAuthorizationToken, kept in memory only."""

    def __init__(self, region: str, client: Any = None) -> None:
        self.region = region
        self._client = client
        self._auth: dict[str, str] | None = None
        self._account: str | None = None
        self._lock = threading.Lock()

    @property
    def account(self) -> str:
        """This account's ID (the registry is `<account>.dkr.ecr.<region>...`), from STS."""
        if self._account is None:
            import boto3

            self._account = str(boto3.client("sts", region_name=self.region)
                                .get_caller_identity()["Account"])
        return self._account

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("ecr", region_name=self.region)
        return self._client

    def _authorize(self) -> dict[str, str]:
        with self._lock:
            if self._auth is None:
                try:
                    data = self.client.get_authorization_token()["authorizationData"][0]
                except Exception as e:  # botocore's errors: no credentials, no network, denied
                    raise UserError(f"ECR in {self.region}: cannot get an authorization token "
                                    f"({e}); check your AWS credentials") from e
                username, _, password = base64.b64decode(data["authorizationToken"]).decode(
                ).partition(":")
                host = urllib.parse.urlparse(data["proxyEndpoint"]).netloc
                self._auth = {"username": username, "password": password,
                              "serveraddress": host}
            return self._auth

    @property
    def host(self) -> str:
        return self._authorize()["serveraddress"]

    def repository(self, app: str, component: str) -> str:
        return f"{self.host}/{naming.ecr_repository_name(app, component)}"

    def auth_config(self) -> dict[str, str]:
        return dict(self._authorize())

    def _name(self, repository: str) -> str:
        return repository.removeprefix(self.host + "/")

    def digest(self, repository: str, tag: str) -> str | None:
        try:
            images = self.client.describe_images(repositoryName=self._name(repository),
                                                 imageIds=[{"imageTag": tag}])["imageDetails"]
        except self.client.exceptions.ImageNotFoundException:
            return None
        except self.client.exceptions.RepositoryNotFoundException:
            return None
        return str(images[0]["imageDigest"]) if images else None

    def ensure_repository(self, repository: str) -> None:
        name = self._name(repository)
        try:
            self.client.create_repository(
                repositoryName=name,
                imageTagMutability="IMMUTABLE",  # a content tag never moves
                imageScanningConfiguration={"scanOnPush": True},
            )
        except self.client.exceptions.RepositoryAlreadyExistsException:
            # Enforce the settings on repositories made elsewhere too (idempotent calls).
            self.client.put_image_tag_mutability(repositoryName=name,
                                                 imageTagMutability="IMMUTABLE")
            self.client.put_image_scanning_configuration(
                repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
        self.client.put_lifecycle_policy(repositoryName=name,
                                         lifecyclePolicyText=json.dumps(ECR_LIFECYCLE_POLICY))
        self.client.set_repository_policy(
            repositoryName=name,
            policyText=json.dumps(lambda_pull_policy(self.region, self.account)))

    def repository_policy(self, name: str) -> str | None:
        """The repository's policy text; None without one or without the repository."""
        try:
            return str(self.client.get_repository_policy(repositoryName=name)["policyText"])
        except (self.client.exceptions.RepositoryPolicyNotFoundException,
                self.client.exceptions.RepositoryNotFoundException):
            return None


def for_name(registry: str, region: str) -> Registry:
    return EcrRegistry(region) if registry == "ecr" else OciRegistry(registry)
