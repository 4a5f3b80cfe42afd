"""botocore's exceptions for failures a user can fix (no credentials, an endpoint that does not
answer, a token that expired, a refused call), each as one sentence saying what to do.

Only consulted after something failed, and botocore is looked at only if it was imported: the
commands that never talk to AWS pay nothing for this at start-up.
"""

from __future__ import annotations

import sys

from lambda_complex.builder import api

# Error codes AWS answers when the caller's credentials are wrong or no longer valid
# (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html,
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html).
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired",
                           "TokenRefreshRequired"})
INVALID_CODES = frozenset({"InvalidClientTokenId", "UnrecognizedClientException",
                           "SignatureDoesNotMatch", "InvalidSignatureException",
                           "IncompleteSignature", "MissingAuthenticationToken", "AuthFailure"})
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                          "NotAuthorized"})

CREDENTIALS_HINT = ("set AWS_PROFILE (after `aws sso login` or `aws configure`) or "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
LOCAL_HINT = api.LOCAL_RUN_HINT


def describe(error: BaseException, local: bool = False) -> str | None:
    """One sentence for a botocore failure, or None when `error` is not one we know.
    `local`: the command talked to the testbed of `lcbuild local run`, not to AWS."""
    if "botocore" not in sys.modules:
        return None
    from botocore import exceptions as bx

    if isinstance(error, bx.NoCredentialsError):
        return f"no AWS credentials were found: {CREDENTIALS_HINT}"
    if isinstance(error, bx.PartialCredentialsError):
        return (f"the AWS credentials are incomplete ({error}): {CREDENTIALS_HINT}")
    if isinstance(error, (bx.TokenRetrievalError, bx.UnauthorizedSSOTokenError,
                          bx.SSOTokenLoadError)):
        return f"the AWS SSO session cannot be used ({error}): run `aws sso login` and retry"
    if isinstance(error, (bx.EndpointConnectionError, bx.ConnectTimeoutError,
                          bx.ReadTimeoutError, bx.ProxyConnectionError)):
        details = getattr(error, "kwargs", {})
        url = details.get("endpoint_url") or details.get("proxy_url", "")
        if local:
            return (f"no `lcbuild local run` answers at {url} (it stopped and left its "
                    f"endpoint file behind): {LOCAL_HINT}")
        return (f"the AWS endpoint {url} does not answer: check the network, the region and "
                "AWS_ENDPOINT_URL (unset it for AWS itself; for the emulator, start it first)")
    if isinstance(error, bx.ClientError):
        return _client_error(error)
    if isinstance(error, bx.BotoCoreError):
        return f"the AWS call failed: {error}"
    return None


MESSAGE_CHARS = 200


def _client_error(error: BaseException) -> str:
    response = getattr(error, "response", {}) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    # One line, whatever answered (a proxy's HTML error page included).
    message = " ".join(str(response.get("Error", {}).get("Message", "")).split()).rstrip(".")
    if len(message) > MESSAGE_CHARS:
        message = message[: MESSAGE_CHARS - 1] + "…"
    operation = getattr(error, "operation_name", "the call")
    if code in EXPIRED_CODES:
        return (f"the AWS credentials have expired ({code} on {operation}): renew them "
                "(`aws sso login`, or new temporary keys) and retry")
    if code in INVALID_CODES:
        return (f"AWS does not accept these credentials ({code} on {operation}: {message}): "
                f"{CREDENTIALS_HINT} for the right account")
    if code in DENIED_CODES:
        return (f"AWS denied {operation} ({code}: {message}): use credentials whose policy "
                "allows it")
    return f"AWS refused {operation} ({code or 'error'}: {message})"
