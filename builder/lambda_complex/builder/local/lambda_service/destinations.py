"""The on-failure destination of asynchronous invocations: an SQS queue (ARN or URL) that gets
Lambda's destination record of each event that failed for good or was stopped."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import Any

from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.builder.local.lambda_service.pool import destination_record
from lambda_complex.builder.local.lambda_service.runtime_api import Invocation

log = logging.getLogger("lambda_complex.builder.local.lambda_service.service")


class Destinations:
    """Sends destination records with the credentials of `aws_env` (the service's own)."""

    def __init__(self, aws_env: Mapping[str, str]) -> None:
        self.aws_env = aws_env
        self._sqs: Any = None
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def send(
        self, fn: FunctionDefinition, request_id: str, payload: bytes, inv: Invocation,
        attempts: int,
    ) -> bool:
        if fn.on_failure is None:
            log.warning(
                "%s: event %s failed %d times and has no destination", fn.name, request_id, attempts
            )
            return False
        record = destination_record(fn, request_id, payload, inv, attempts)
        try:
            sqs = self._sqs_client(fn.region)
            sqs.send_message(
                QueueUrl=self._queue_url(sqs, fn.on_failure), MessageBody=json.dumps(record)
            )
            return True
        except Exception:
            log.exception("%s: cannot send event %s to %s", fn.name, request_id, fn.on_failure)
            return False

    def _sqs_client(self, region: str) -> Any:
        with self._lock:
            if self._sqs is None:
                import boto3  # only when a record is sent: `lcbuild local invoke` starts faster

                env = self.aws_env
                self._sqs = boto3.client(
                    "sqs",
                    region_name=region,
                    endpoint_url=env.get("AWS_ENDPOINT_URL"),
                    aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                    aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
                )
            return self._sqs

    def _queue_url(self, sqs: Any, target: str) -> str:
        if not target.startswith("arn:"):
            return target
        if target not in self._queue_urls:
            _, _, _, _, account, queue = target.split(":", 5)
            url: str = sqs.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)[
                "QueueUrl"
            ]
            self._queue_urls[target] = url
        return self._queue_urls[target]
