"""Who calls what in the testbed when IAM is enforced: the deployer, an admin IAM user made while
the emulator's checks are still off; each function, with temporary credentials of its own
execution role, assumed as Lambda assumes it (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html)
and handed to its instances in the standard variables; and the authorization of the `Invoke`
calls the local Lambda service receives, decided by the emulator's IAM (its `/lambda-complex/`
endpoints, added by `moto_iam`).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lambda_complex.builder.local.aws.account import ACCOUNT_ID
from lambda_complex.builder.local.aws.emulator_server.moto_iam import LOCAL_API

DEPLOYER = "lambda-complex-local-deployer"
ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# AssumeRole's default session duration; credentials are renewed once half of it has passed, and
# an instance is retired before its own credentials could expire during an execution.
SESSION_SECONDS = 3600
RENEW_AFTER = SESSION_SECONDS / 2
NO_IAM_WARNING = (
    "IAM is not enforced (--no-iam): every call is allowed locally, so a missing grant shows "
    "only on AWS"
)


class IdentityError(RuntimeError):
    pass


def _post(endpoint: str, path: str, body: bytes, content_type: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        endpoint + path, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def create_deployer(iam: Any) -> dict[str, str]:
    """An admin IAM user and its access key (call while enforcement is off): the environment
    variables that make boto3, sceptre and the testbed act as it."""
    iam.create_user(UserName=DEPLOYER)
    iam.put_user_policy(
        UserName=DEPLOYER, PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY)
    )
    key = iam.create_access_key(UserName=DEPLOYER)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


def enforce(endpoint: str) -> None:
    """Switch the emulator's IAM checks on for every call from now on."""
    status, _ = _post(endpoint, "/moto-api/reset-auth", b"0", "text/plain")
    if status != 200:
        raise IdentityError(f"the emulator refused to enforce IAM (HTTP {status})")


@dataclass(frozen=True)
class Issued:
    """Credentials of one role session: its environment variables and when (time.monotonic())
    they stop being good enough to start an instance with."""

    environment: Mapping[str, str]
    renew_at: float


class RoleCredentials:
    """Each execution role's session, assumed through the emulator as Lambda's service principal
    and renewed after RENEW_AFTER seconds."""

    def __init__(
        self, endpoint: str, region: str, account: str = ACCOUNT_ID,
        renew_after: float = RENEW_AFTER,
    ) -> None:
        self.endpoint, self.region, self.account = endpoint, region, account
        self.renew_after = renew_after
        self._sessions: dict[str, Issued] = {}
        self._lock = threading.Lock()

    def for_role(self, role_arn: str, function: str) -> Issued:
        with self._lock:
            issued = self._sessions.get(role_arn)
            if issued is None or time.monotonic() >= issued.renew_at:
                issued = self._sessions[role_arn] = self._assume(role_arn, function)
            return issued

    def _assume(self, role_arn: str, function: str) -> Issued:
        started = time.monotonic()
        request = {"account": self.account, "region": self.region, "role_arn": role_arn,
                   "session_name": function[:64], "duration": SESSION_SECONDS}
        status, answer = _post(
            self.endpoint, LOCAL_API + "assume-role", json.dumps(request).encode(),
            "application/json",
        )
        if status != 200:
            raise IdentityError(
                f"cannot assume the execution role {role_arn} of {function}: "
                f"{answer.get('message', status)}"
            )
        return Issued(
            {"AWS_ACCESS_KEY_ID": answer["AccessKeyId"],
             "AWS_SECRET_ACCESS_KEY": answer["SecretAccessKey"],
             "AWS_SESSION_TOKEN": answer["SessionToken"]},
            started + self.renew_after,
        )


def authorize(
    endpoint: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    resource: str,
    action: str = "InvokeFunction",
    account: str = ACCOUNT_ID,
) -> str | None:
    """None when the signed request may perform `action` on `resource`, else why not (the
    emulator's message: AccessDenied, an unknown key, a bad signature)."""
    request = {"account": account, "method": method, "path": path, "headers": dict(headers),
               "body": base64.b64encode(body).decode(), "action": action, "resource": resource}
    status, answer = _post(
        endpoint, LOCAL_API + "authorize", json.dumps(request).encode(), "application/json"
    )
    if status == 200:
        return None
    message = str(answer.get("message", f"HTTP {status}"))
    if answer.get("code") == "AccessDenied":
        message = f"{message} on resource: {resource}"
    return message
