"""The boto3 edge of deploying: thin calls, no decisions.

Honours AWS_ENDPOINT_URL (the emulator)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_complex.builder.deploy.mappings import MappingState, mapping_from
from lambda_complex.builder.deploy.switchover_plan import Counts
from lambda_complex.builder.errors import UserError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
RECEIVE_VISIBILITY_S = 60  # a received-but-unsent message reappears after this
# An endpoint that never answers fails an operator command in seconds, not botocore's default
# 60 s per attempt; the CLI turns the ConnectTimeoutError into one sentence (cli/aws_errors.py).
CONNECT_TIMEOUT_S = 10
# UpdateEventSourceMapping answers ResourceInUseException while a mapping is in a transition
# (Creating, Updating, ...) and ResourceConflictException while another operation is in
# progress (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateEventSourceMapping.html#API_UpdateEventSourceMapping_Errors):
# both end on their own, so the update is tried again after each of these pauses.
MAPPING_BUSY = {"ResourceInUseException", "ResourceConflictException"}
MAPPING_RETRY_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    modified: datetime


@dataclass(frozen=True)
class StackInfo:
    name: str
    status: str
    updated: datetime


def parse_template(body: Any) -> dict[str, Any]:
    """A TemplateBody as returned by GetTemplate: a dict (botocore parsed JSON) or text. Sceptre
    prefixes `---` to what it sends, so JSON comes back as YAML text; JSON is YAML."""
    if isinstance(body, dict):
        return dict(body)
    parsed = yaml.safe_load(body)
    if not isinstance(parsed, dict):
        raise ValueError("the deployed template is not a mapping")
    return parsed


class Aws:
    def __init__(self, region: str, session: boto3.Session | None = None,
                 endpoint_url: str | None = None,
                 service_endpoints: Mapping[str, str] | None = None) -> None:
        """`endpoint_url`: an emulator (`lcbuild local run`) instead of AWS; `service_endpoints`:
        another endpoint for some services (the local run's SQS tap and Lambda service)."""
        self.session = session or boto3.Session(region_name=region)
        self.region = region
        self._endpoints = {"": endpoint_url, **(service_endpoints or {})}
        self.sqs: SQSClient = self._client("sqs")
        self.ssm: SSMClient = self._client("ssm")
        self.cfn: CloudFormationClient = self._client("cloudformation")
        self._rarely_used: dict[str, Any] = {}  # created on first use (lambda, logs)

    def _client(self, service: str, attempts: int | None = None) -> Any:
        """`attempts`: at most this many tries of a call (botocore's default retries if None)."""
        endpoint = self._endpoints.get(service) or self._endpoints[""]
        config = Config(connect_timeout=CONNECT_TIMEOUT_S)
        if attempts:
            config = config.merge(Config(retries={"total_max_attempts": attempts}))
        return self.session.client(  # type: ignore[call-overload]
            service, region_name=self.region, endpoint_url=endpoint, config=config)

    def _lazy_client(self, service: str, attempts: int | None = None) -> Any:
        key = f"{service}/{attempts}"
        if key not in self._rarely_used:
            self._rarely_used[key] = self._client(service, attempts)
        return self._rarely_used[key]

    # --- Lambda ---
    def invoke_event(self, function_name: str, payload: bytes, attempts: int | None = None
                     ) -> bool:
        """Queue an asynchronous invocation; True once Lambda accepted it."""
        lam: LambdaClient = self._lazy_client("lambda", attempts)
        answer = lam.invoke(
            FunctionName=function_name, InvocationType="Event", Payload=payload)
        return answer.get("StatusCode") == 202

    def mappings(self, function_names: list[str]) -> list[MappingState]:
        """The SQS event source mappings of these functions (none for a function that does not
        exist)."""
        lam: LambdaClient = self._lazy_client("lambda")
        found: list[MappingState] = []
        for name in function_names:
            try:
                for page in lam.get_paginator("list_event_source_mappings").paginate(
                        FunctionName=name):
                    for entry in page.get("EventSourceMappings", []):
                        mapping = mapping_from(dict(entry))
                        if mapping is not None:
                            found.append(mapping)
            except ClientError as e:
                if e.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
        return found

    def set_mapping_enabled(self, uuid: str, enabled: bool,
                            sleep: Callable[[float], None] = time.sleep) -> str | None:
        """Enable or disable a mapping; its State as answered (None: it no longer exists).
        A mapping busy in a transition is tried again after MAPPING_RETRY_DELAYS_S."""
        lam: LambdaClient = self._lazy_client("lambda")
        for delay in (*MAPPING_RETRY_DELAYS_S, None):
            try:
                answer = lam.update_event_source_mapping(UUID=uuid, Enabled=enabled)
                # AWS answers an unknown UUID with ResourceNotFoundException, moto with `{}`.
                return str(answer.get("State", "")) if answer.get("UUID") else None
            except ClientError as e:
                code = e.response["Error"]["Code"]
                if code == "ResourceNotFoundException":
                    return None
                if code not in MAPPING_BUSY:
                    raise
                if delay is None:
                    raise UserError(
                        f"event source mapping {uuid} is still busy ({code}) after "
                        f"{sum(MAPPING_RETRY_DELAYS_S):.0f} s: run the command again") from e
            sleep(delay)
        return None  # not reached: the last try returns or raises

    # --- CloudWatch Logs ---
    def log_messages(self, group: str, pattern: str, since_s: int) -> list[str]:
        """Messages of a log group's events of the last `since_s` seconds matching a filter
        pattern; none if the group does not exist (a function that never ran)."""
        logs = self._lazy_client("logs")
        start = int((time.time() - since_s) * 1000)
        found: list[str] = []
        try:
            for page in logs.get_paginator("filter_log_events").paginate(
                    logGroupName=group, filterPattern=pattern, startTime=start):
                found.extend(str(e.get("message", "")) for e in page.get("events", []))
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                return []
            raise
        return found

    # --- SSM ---
    def get_parameter(self, name: str) -> Parameter | None:
        try:
            p = self.ssm.get_parameter(Name=name)["Parameter"]
        except ClientError as e:
            if e.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise
        return Parameter(p["Name"], p["Value"], p["LastModifiedDate"])

    def put_parameter(self, name: str, value: str) -> None:
        self.ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

    def parameters_under(self, path: str) -> list[Parameter]:
        found: list[Parameter] = []
        for page in self.ssm.get_paginator("get_parameters_by_path").paginate(
                Path=path.rstrip("/"), Recursive=True):
            found.extend(Parameter(p["Name"], p["Value"], p["LastModifiedDate"])
                         for p in page["Parameters"])
        return found

    # --- SQS ---
    def queue_url(self, name: str) -> str | None:
        try:
            return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as e:
            if e.response["Error"]["Code"] in MISSING_QUEUE:
                return None
            raise

    def counts(self, url: str) -> Counts:
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return Counts(int(attrs.get("ApproximateNumberOfMessages", 0)),
                      int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                      int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)))

    def receive(self, url: str, max_messages: int = 10) -> list[dict[str, Any]]:
        """Up to `max_messages` (<= 10) messages, invisible for RECEIVE_VISIBILITY_S."""
        messages: list[Any] = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=max_messages,
            VisibilityTimeout=RECEIVE_VISIBILITY_S, WaitTimeSeconds=0,
        ).get("Messages", [])
        return messages

    def delete(self, url: str, receipt_handles: list[str]) -> None:
        if receipt_handles:
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipt_handles)])

    def move_batch(self, source: str, target: str, max_messages: int = 10,
                   skip: Callable[[str], bool] | None = None) -> tuple[int, int]:
        """Receive up to `max_messages` (<= 10) from `source`, send them to `target`, delete from
        `source` only those whose send succeeded. Returns (received, moved). Messages whose body
        `skip` accepts stay in `source` (visible again after RECEIVE_VISIBILITY_S)."""
        received = self.sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=max_messages,
            VisibilityTimeout=RECEIVE_VISIBILITY_S,
            WaitTimeSeconds=0, MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
        ).get("Messages", [])
        messages = [m for m in received if skip is None or not skip(m["Body"])]
        if not messages:
            return len(received), 0
        entries: list[Any] = []
        for i, m in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(i), "MessageBody": m["Body"]}
            if m.get("MessageAttributes"):
                entry["MessageAttributes"] = m["MessageAttributes"]
            group = m.get("Attributes", {}).get("MessageGroupId")
            if group and target.endswith(".fifo"):
                entry["MessageGroupId"] = group
                entry["MessageDeduplicationId"] = m["MessageId"]
            entries.append(entry)
        sent = self.sqs.send_message_batch(QueueUrl=target, Entries=entries)
        ok = {s["Id"] for s in sent.get("Successful", [])}
        done = [m["ReceiptHandle"] for i, m in enumerate(messages) if str(i) in ok]
        self.delete(source, done)
        return len(received), len(done)

    def delete_queue(self, url: str) -> None:
        self.sqs.delete_queue(QueueUrl=url)

    # --- CloudFormation ---
    def stack(self, name: str) -> StackInfo | None:
        try:
            s = self.cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError as e:
            if "does not exist" in e.response["Error"]["Message"]:
                return None
            raise
        return StackInfo(name, s["StackStatus"], s.get("LastUpdatedTime") or s["CreationTime"])

    def deployed_template(self, name: str) -> dict[str, Any] | None:
        if self.stack(name) is None:
            return None
        body: Any = self.cfn.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
        return parse_template(body)

    def update_template(self, name: str, template: dict[str, Any], timeout_s: float = 900) -> str:
        """Update a stack to `template` (same parameters, tags kept) and wait for the result."""
        try:
            self.cfn.update_stack(StackName=name, TemplateBody=json.dumps(template),
                                  Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
        except ClientError as e:
            if "No updates are to be performed" in e.response["Error"]["Message"]:
                return "UPDATE_COMPLETE"
            raise
        deadline = time.monotonic() + timeout_s
        while True:
            info = self.stack(name)
            status = info.status if info else "DELETED"
            if not status.endswith("IN_PROGRESS") or time.monotonic() > deadline:
                return status
            time.sleep(2)
