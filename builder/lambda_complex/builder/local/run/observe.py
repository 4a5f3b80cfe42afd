"""What a running testbed reads back from the emulator: queue URLs and depths, bucket contents."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3

from lambda_complex.runtime import resources

_QUEUE_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


class Clients:
    """boto3 clients of a running testbed, made once per service, endpoint and identity: its
    watching (queue depths several times a second) would otherwise build a client, tens of
    milliseconds of CPU, for every call. boto3 clients are safe to share between threads."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str, str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, service: str, endpoint: str, region: str, keys: dict[str, str]) -> Any:
        key_id = keys.get("AWS_ACCESS_KEY_ID", "testing")
        with self._lock:
            key = (service, endpoint, region, key_id)
            if key not in self._made:
                self._made[key] = boto3.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=endpoint, region_name=region, aws_access_key_id=key_id,
                    aws_secret_access_key=keys.get("AWS_SECRET_ACCESS_KEY", "testing"))
            return self._made[key]

    def clear(self) -> None:
        with self._lock:
            self._made.clear()


class Queues:
    """Queues by name, through `client` (a service name -> boto3 client of the emulator)."""

    def __init__(self, client: Callable[[str], Any]) -> None:
        self._client = client
        self._urls: dict[str, str] = {}

    def url(self, queue: str) -> str:
        if queue not in self._urls:
            url: str = self._client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
            self._urls[queue] = url
        return self._urls[queue]

    def counts(self, queue: str) -> tuple[int, int]:
        """(visible, not visible + delayed) of a queue; (0, 0) once a redeploy removed it."""
        try:
            attrs = self._client("sqs").get_queue_attributes(
                QueueUrl=self.url(queue), AttributeNames=_QUEUE_ATTRIBUTES
            )["Attributes"]
        except Exception as e:
            if not resources.is_missing_queue(e):
                raise
            self._urls.pop(queue, None)
            return 0, 0
        visible = int(attrs.get("ApproximateNumberOfMessages", 0))
        hidden = int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesDelayed", 0)
        )
        return visible, hidden


def s3_objects(s3: Any) -> dict[str, list[str]]:
    """Every key of every bucket, through `s3` (a boto3 S3 client)."""
    found: dict[str, list[str]] = {}
    for bucket in sorted(b["Name"] for b in s3.list_buckets().get("Buckets", [])):
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        found[bucket] = sorted(keys)
    return found
