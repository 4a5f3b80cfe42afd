"""`lcbuild doctor`: read-only preflight against the account, one line per check.

Each check is a thin read (STS, Lambda, ECR, SQS, Docker) followed by a pure decision, and says
either what it found or what to do. The switchover hook's `begin` runs the checks that apply to a
deploy (`deploy_checks`) before any stack changes, so a deploy that would fail stops first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, limits, render
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.deploy.images import COORDINATOR_KEY
from lambda_complex.builder.images import registry
from lambda_complex.runtime import names
from lambda_complex.runtime.delivery import SQS_MAX_BODY

# "Lambda reserves 100 units of concurrency for functions that don't use reserved concurrency":
# reservations may leave no less than this unreserved
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
MIN_UNRESERVED = 100
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[^@:]+)")
_PLACEHOLDER_DIGEST = "sha256:" + "0" * 64


# Error codes of an endpoint that lacks an operation (an emulator; AWS answers all we call).
_NOT_IMPLEMENTED = frozenset({"404", "NotImplemented", "UnknownOperationException",
                              "InvalidAction"})


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was found, or what to do
    skipped: bool = False  # could not be checked here (not a failure, not a pass)

    def line(self) -> str:
        mark = "skip" if self.skipped else "ok  " if self.ok else "FAIL"
        return f"{mark} {self.name}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _error(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


# --- pure decisions ---

def reserved_by(app: App) -> int:
    """Concurrency the functions stack reserves: `max_concurrency` of every component."""
    return sum(c.max_concurrency for c in app.components)


def unreserved_after(account_unreserved: int, reserved_now: int, wanted: int) -> int:
    """Unreserved concurrency once this app's functions reserve `wanted`, given what the
    account has unreserved now and what this app's deployed functions reserve today."""
    return account_unreserved + reserved_now - wanted


def concurrency_check(app: App, account_limit: int, account_unreserved: int,
                      reserved_now: int) -> Check:
    wanted = reserved_by(app)
    left = unreserved_after(account_unreserved, reserved_now, wanted)
    if left >= MIN_UNRESERVED:
        return Check("concurrency", True, f"{app.name} reserves {wanted} of the account's "
                     f"{account_limit}; {left} stay unreserved (AWS keeps >= {MIN_UNRESERVED})")
    return Check("concurrency", False, (
        f"{app.name} reserves {wanted} (the sum of max_concurrency) but only "
        f"{account_unreserved + reserved_now - MIN_UNRESERVED} can be reserved: the account's "
        f"limit is {account_limit} and AWS keeps {MIN_UNRESERVED} unreserved; lower "
        "max_concurrency in lambda-complex.yaml or ask AWS Support (Service Quotas: Lambda "
        "'Concurrent executions') for more"))


def ecr_repositories(images: Images) -> dict[str, tuple[str, str, str]]:
    """The ECR repositories the images live in: name -> (account, region, image)."""
    found: dict[str, tuple[str, str, str]] = {}
    for uri in [*images.components.values(), images.coordinator]:
        match = _ECR_IMAGE.match(uri)
        if match:
            found[match["repository"]] = (match["account"], match["region"], uri)
    return found


def placeholder_images(app: App) -> Images:
    """Image URIs as long as real ones, for sizing templates without a build manifest."""
    host = f"123456789012.dkr.ecr.{app.deployment.region}.amazonaws.com"

    def uri(component: str) -> str:
        return f"{host}/{naming.ecr_repository_name(app.name, component)}@{_PLACEHOLDER_DIGEST}"
    return Images(components={c: uri(c) for c in app.component_names},
                  coordinator=uri(COORDINATOR_KEY))


def template_bucket_of(project: Path) -> str | None:
    """`template_bucket_name` of the Sceptre project's config (a child config wins)."""
    found: str | None = None
    config = project / "config"
    for path in sorted(config.rglob("config.yaml"), key=lambda p: len(p.parts)):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("template_bucket_name"):
            found = str(data["template_bucket_name"])
    return found


def template_size_check(app: App, images: Images, template_bucket: str | None,
                        deployed_queues: dict[str, Any] | None = None) -> Check:
    problems, sizes = [], []
    for stack in common.STACKS:
        body = render.to_json(render.render(app, stack, images, deployed_queues))
        name = common.stack_name(app, stack)
        sizes.append(f"{stack} {limits.body_size(body):,} B")
        problem = limits.size_problem(name, body, template_bucket)
        if problem:
            problems.append(problem)
    if problems:
        return Check("template sizes", False, "; ".join(problems))
    where = f"uploaded to s3://{template_bucket}" if template_bucket else (
        f"inline, limit {limits.TEMPLATE_BODY_MAX:,} B")
    return Check("template sizes", True, f"{', '.join(sizes)} ({where})")


# --- checks against the account (thin reads) ---

def credentials_check(session: boto3.Session, region: str) -> tuple[Check, str | None]:
    """The caller's identity in the deployment's region, and the account ID (None: no access)."""
    try:
        who = session.client("sts", region_name=region).get_caller_identity()
    except Exception as e:
        return Check("credentials", False, (
            f"cannot call STS in {region} ({_error(e)}): configure AWS credentials "
            "(AWS_PROFILE, `aws configure` or the AWS_* variables)")), None
    return Check("credentials", True, f"{who['Arn']} in account {who['Account']}, "
                 f"region {region} (deployment.region)"), str(who["Account"])


def account_concurrency(app: App, session: boto3.Session) -> Check:
    lam = session.client("lambda", region_name=app.deployment.region)
    try:
        limit = lam.get_account_settings()["AccountLimit"]
    except Exception as e:
        code = str(getattr(e, "response", {}).get("Error", {}).get("Code", ""))
        if code in _NOT_IMPLEMENTED:
            return Check("concurrency", True, "not checked: this endpoint does not answer "
                         "GetAccountSettings (moto does not)", skipped=True)
        return Check("concurrency", False, f"cannot read the account's Lambda settings "
                     f"({_error(e)}): the deployer needs lambda:GetAccountSettings")
    reserved_now = 0
    for component in app.component_names:
        try:
            answer = lam.get_function_concurrency(
                FunctionName=names.function_name(app.name, component))
        except lam.exceptions.ResourceNotFoundException:
            continue
        reserved_now += int(answer.get("ReservedConcurrentExecutions") or 0)
    return concurrency_check(app, int(limit["ConcurrentExecutions"]),
                             int(limit["UnreservedConcurrentExecutions"]), reserved_now)


def ecr_check(images: Images, ecr: registry.EcrRegistry, account: str | None) -> Check:
    repositories = ecr_repositories(images)
    if not repositories:
        return Check("ECR", True, "no image is in ECR")
    problems = []
    for name, (owner, region, uri) in sorted(repositories.items()):
        if account is not None and owner != account:
            problems.append(f"{uri} is in account {owner}, not {account}: Lambda needs a "
                            "repository policy there for this account; see docs/aws.md")
            continue
        if region != ecr.region:
            problems.append(f"{uri} is in {region}: Lambda pulls only from "
                            f"{ecr.region}; push with `lcbuild images --push`")
            continue
        try:
            ecr.client.describe_repositories(repositoryNames=[name])
        except ecr.client.exceptions.RepositoryNotFoundException:
            problems.append(f"repository {name} does not exist: run `lcbuild images --push`")
            continue
        if not registry.grants_lambda_pull(ecr.repository_policy(name)):
            problems.append(f"repository {name} does not let lambda.amazonaws.com pull: run "
                            "`lcbuild images --push` (it sets the policy; needs "
                            "ecr:SetRepositoryPolicy)")
    if problems:
        return Check("ECR", False, "; ".join(problems))
    return Check("ECR", True, f"{len(repositories)} repositories exist and let Lambda pull")


def queue_message_size_check(app: App, session: boto3.Session) -> Check:
    """Deployed queues must take the largest body delivery sends (an old stack, or an API whose
    limit is lower, keeps 256 KiB)."""
    sqs = session.client("sqs", region_name=app.deployment.region)
    small, seen = [], 0
    for spec in common.queue_specs(app):
        try:
            url = sqs.get_queue_url(QueueName=spec.name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            continue
        size = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "MaximumMessageSize"])["Attributes"].get("MaximumMessageSize", 0))
        seen += 1
        if size < SQS_MAX_BODY:
            small.append(f"{spec.name} ({size:,} B)")
    if small:
        return Check("queue message size", False, (
            f"delivery sends bodies up to {SQS_MAX_BODY:,} B but these queues take less: "
            f"{', '.join(small)}; deploy the queues stack again (it sets MaximumMessageSize)"))
    if not seen:
        return Check("queue message size", True, "no queue deployed yet")
    return Check("queue message size", True, f"{seen} queues take {SQS_MAX_BODY:,} B")


def docker_checks(base_image: str, client_factory: Callable[[], Any] | None = None
                  ) -> list[Check]:
    """The engine answers, and holds the base image (lcbuild never pulls it)."""
    try:
        if client_factory is None:
            import docker

            client_factory = docker.from_env
        client = client_factory()
        client.ping()
    except Exception as e:
        return [Check("docker", False, f"no Docker engine answers ({_error(e)}): start it, or "
                      "set DOCKER_HOST"),
                Check("base image", False, "needs the Docker engine")]
    checks = [Check("docker", True, f"engine {client.version().get('Version', '?')}")]
    try:
        client.images.get(base_image)
        checks.append(Check("base image", True, f"{base_image} is in the engine"))
    except Exception:
        checks.append(Check("base image", False, f"{base_image} is not in the engine and "
                            f"lcbuild never pulls: run `docker pull {base_image}`"))
    return checks


# Why a deploy to the local emulator skips the account checks: none of them can fail there.
ON_EMULATOR = {
    # The local run made the deployer an admin user of the emulator's account just before.
    "credentials": "a local deploy acts as the admin user the local run made",
    # moto does not answer GetAccountSettings (the check would be skipped after the call).
    "concurrency": "the emulator keeps no concurrency quota",
    # A local deploy's images are placeholders pinned by digest, never ECR images.
    "ECR": "a local deploy's images are placeholders, not in ECR",
}


def deploy_checks(app: App, session: boto3.Session, images: Images,
                  template_bucket: str | None,
                  deployed_queues: dict[str, Any] | None = None,
                  emulator: bool = False) -> list[Check]:
    """What a deploy needs from the account: identity, concurrency, ECR, template sizes.
    `emulator` (a local run's deploy): only what can fail there, the template sizes; the
    account checks are reported skipped (ON_EMULATOR says why), without any call."""
    checks = [template_size_check(app, images, template_bucket, deployed_queues)]
    if emulator:
        return checks + [Check(name, True, f"not checked: {why}", skipped=True)
                         for name, why in ON_EMULATOR.items()]
    identity, account = credentials_check(session, app.deployment.region)
    checks.insert(0, identity)
    if account is None:
        return checks
    checks.append(account_concurrency(app, session))
    if app.deployment.registry == "ecr":
        checks.append(ecr_check(images, registry.EcrRegistry(
            app.deployment.region, session.client("ecr", region_name=app.deployment.region)),
            account))
    return checks


def all_checks(app: App, session: boto3.Session, images: Images, template_bucket: str | None,
               base_image: str, deployed_queues: dict[str, Any] | None = None,
               docker_factory: Callable[[], Any] | None = None) -> list[Check]:
    checks = deploy_checks(app, session, images, template_bucket, deployed_queues)
    if checks[0].ok:
        checks.append(queue_message_size_check(app, session))
    return checks + docker_checks(base_image, docker_factory)


def failures(checks: Iterable[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]
