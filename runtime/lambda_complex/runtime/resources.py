"""The resource map: boto3 clients and queue URLs, created once per container.

Names come from `names` (no S3 map download per invocation, no circular stack references); queue
URLs are looked up with GetQueueUrl once and cached, and forgotten when a call reports the queue
missing (a redeployed queue gets a new URL only if its name changed, which the cache then follows).
boto3 is imported lazily: importing it costs ~150 ms and the wrapper must import in < 50 ms.
boto3 honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> on its own.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_ssm import SSMClient

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_queue_urls: dict[str, str] = {}

# Error codes SQS uses for a queue that does not exist (JSON and query protocols).
MISSING_QUEUE_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}
)


def _client(service: str) -> Any:
    with _lock:
        client = _clients.get(service)
        if client is None:
            import boto3
            from botocore.config import Config

            # Standard retries handle throttling with backoff; the pool serves the coordinator's
            # thread pool (max_api_concurrency calls in flight).
            config = Config(
                retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=50
            )
            client = boto3.client(service, config=config)  # type: ignore[call-overload]
            _clients[service] = client
        return client


def sqs() -> SQSClient:
    client: SQSClient = _client("sqs")
    return client


def lambda_client() -> LambdaClient:
    client: LambdaClient = _client("lambda")
    return client


def ssm() -> SSMClient:
    client: SSMClient = _client("ssm")
    return client


def queue_url(queue_name: str) -> str:
    url = _queue_urls.get(queue_name)
    if url is None:
        url = sqs().get_queue_url(QueueName=queue_name)["QueueUrl"]
        _queue_urls[queue_name] = url
    return url


def forget_queue_url(queue_name: str) -> None:
    _queue_urls.pop(queue_name, None)


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else ''."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_missing_queue(error: BaseException) -> bool:
    return error_code(error) in MISSING_QUEUE_CODES


def reset() -> None:
    """Forget clients and URLs (tests switch endpoints; a container never needs this)."""
    with _lock:
        _clients.clear()
        _queue_urls.clear()
