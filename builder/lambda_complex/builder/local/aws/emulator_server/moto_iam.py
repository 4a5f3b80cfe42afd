"""moto's IAM enforcement, made to decide as AWS does. Run inside the emulator's own Python by
`serve.py` beside it (so: moto and the standard library only, moto imported where used).

With enforcement on (`POST /moto-api/reset-auth` with `0`), moto authorizes each call as
`<service>:<operation>` on one resource. `authorization` corrects what AWS authorizes differently
(batch SQS calls, Lambda `Invoke`, the queue of GetQueueUrl, SSM parameter and Lambda function
ARNs); refusals reach JSON-protocol clients in JSON; inline role policies made by CloudFormation
become readable, and follow stack updates; and `LOCAL_API` adds what the local Lambda service
needs from moto's IAM: authorizing an `Invoke` it received itself, and assuming a function's
execution role as Lambda's service principal does.
"""

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

# IAM authorizes these operations as another action. SQS batch calls: "permissions for
# SendMessageBatch, DeleteMessageBatch and ChangeMessageVisibilityBatch are the same as for
# SendMessage, DeleteMessage and ChangeMessageVisibility"
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-permissions-reference.html);
# Lambda's Invoke is the action lambda:InvokeFunction
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html).
IAM_ACTIONS = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("lambda", "Invoke"): "InvokeFunction",
}
# SSM calls on parameters, with the request fields that name them. A parameter's ARN is
# `arn:aws:ssm:REGION:ACCOUNT:parameter/NAME` with the name's leading slash dropped; GetParameters
# is authorized for each name it asks for
# (https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-paramstore-access.html).
SSM_PARAMETER_FIELDS = {
    "GetParameter": "Name",
    "PutParameter": "Name",
    "DeleteParameter": "Name",
    "GetParameterHistory": "Name",
    "LabelParameterVersion": "Name",
    "GetParameters": "Names",
    "DeleteParameters": "Names",
    "GetParametersByPath": "Path",
}
_FUNCTION_PATH = re.compile(r"^/\d{4}-\d{2}-\d{2}/functions/([^/]+)")
LOCAL_API = "/lambda-complex/"  # our own endpoints: authorize, assume-role (see _local_api)
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


def iam_action(service: str, operation: str) -> str:
    """The IAM action (without the service prefix) that authorizes `operation`."""
    return IAM_ACTIONS.get((service, operation), operation)


def parameter_arn(region: str, account: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def function_arn(region: str, account: str, identifier: str) -> str:
    """A function named in a Lambda URL path: a name, a full or partial ARN (any qualifier is
    dropped: the unqualified ARN is what the project's policies grant)."""
    identifier = urllib.parse.unquote(identifier)
    if ":function:" in identifier:
        identifier = identifier.split(":function:", 1)[1]
    return f"arn:aws:lambda:{region}:{account}:function:{identifier.split(':', 1)[0]}"


def authorization(
    service: str,
    operation: str,
    region: str,
    account: str,
    path: str,
    param: Callable[[str], Any],
) -> tuple[str, list[str] | None]:
    """(IAM action, the resources it is authorized on) of one call, as AWS decides them; None:
    moto's own resource is right. `param(name)` reads a request field."""
    action = iam_action(service, operation)
    if service == "lambda":
        match = _FUNCTION_PATH.match(urllib.parse.urlsplit(path).path)
        return action, [function_arn(region, account, match.group(1))] if match else None
    if service == "sqs" and operation == "GetQueueUrl":  # moto finds no queue URL: "*"
        owner = param("QueueOwnerAWSAccountId") or account
        return action, [f"arn:aws:sqs:{region}:{owner}:{param('QueueName')}"]
    if service == "ssm" and operation in SSM_PARAMETER_FIELDS:
        value = param(SSM_PARAMETER_FIELDS[operation])
        names = value if isinstance(value, list) else [value] if value else []
        return action, [parameter_arn(region, account, str(n)) for n in names] or None
    return action, None


def denial(service: str, code: str, message: str, resource: str) -> tuple[str, str]:
    """(error code, message) of a refusal as a JSON-protocol service answers it: moto answers in
    XML, which botocore cannot read there (the code becomes "403"). SQS keeps its query-protocol
    code `AccessDenied`; the others say `AccessDeniedException`. AWS names the resource."""
    if code != "AccessDenied":
        return code, message
    if resource != "*":
        message = f"{message} on resource: {resource}"
    return ("AccessDenied" if service == "sqs" else "AccessDeniedException"), message


def _between(text: str, first: str, second: str) -> str:
    return text.partition(first)[2].partition(second)[0]


def _request_class(base: Any, action: str | None = None) -> Any:
    """moto's IAM request class, authorizing `action` (default: the operation called). A GET,
    HEAD or DELETE without a body is signed over an empty payload: moto would hash its parsed
    fields instead (for Lambda's GET calls, the headers) and refuse it as badly signed."""

    class Checked(base):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            kwargs["action"] = action or kwargs["action"]
            if kwargs.get("method") in ("GET", "HEAD", "DELETE") and not kwargs.get("body"):
                kwargs["body"], kwargs["data"] = b"", b""
            super().__init__(**kwargs)

    return Checked


def _patch_authorization() -> None:
    try:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.core.exceptions import JsonRESTError
        from moto.core.exceptions import _RESTError as RESTError
        from moto.iam.access_control import IAMRequest
    except ImportError:
        return
    if not hasattr(ActionAuthenticatorMixin, "_authenticate_and_authorize_action"):
        return

    def authorize(self: Any, resource: str = "*") -> None:
        enforced = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
        scope = _between(self.headers.get("Authorization") or "", "Credential=", ",").split("/")
        operation = self._get_action() if enforced else None
        if len(scope) < 4 or not operation:  # not enforced (moto counts the call), or unsigned
            ActionAuthenticatorMixin._authenticate_and_authorize_action(self, IAMRequest, resource)
            return
        region, service = scope[2], scope[3]

        def param(name: str) -> Any:
            try:
                return self._get_param(name)
            except Exception:
                return None

        action, resources = authorization(
            service, operation, region, self.current_account, self.raw_path, param
        )
        request_class = _request_class(IAMRequest, None if action == operation else action)
        json_protocol = "json" in (self.headers.get("Content-Type") or "")
        for each in resources or [resource]:
            try:
                self._authenticate_and_authorize_action(request_class, each)
            except JsonRESTError:
                raise
            except RESTError as e:
                if not json_protocol:
                    raise
                code, message = denial(service, e.error_type, e.message, each)
                raise JsonRESTError(code, message) from None

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authorize


def _patch_policy_documents() -> None:
    """A role's inline policy made by CloudFormation is kept as a parsed document, which moto's
    policy check cannot read (it expects JSON text, or an entry holding `policy_document`)."""
    try:
        from moto.iam.access_control import IAMPolicy
    except ImportError:
        return
    original = IAMPolicy.__init__

    def init(self: Any, policy: Any) -> None:
        if isinstance(policy, dict) and "policy_document" not in policy:
            policy = json.dumps(policy)
        original(self, policy)

    IAMPolicy.__init__ = init


def trusts_lambda(trust_policy: Any) -> bool:
    """Whether a role's trust policy lets Lambda's service principal assume it."""
    document = json.loads(trust_policy) if isinstance(trust_policy, str) else trust_policy
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        services = (statement.get("Principal") or {}).get("Service", [])
        if (
            statement.get("Effect") == "Allow"
            and {"sts:AssumeRole", "sts:*", "*"} & set(_listed(actions))
            and LAMBDA_PRINCIPAL in _listed(services)
        ):
            return True
    return False


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _authorize_invoke(request: dict[str, Any]) -> dict[str, Any]:
    """Authorize a signed request the local Lambda service received (its method, path, headers
    and body) as moto authorizes its own: signature, then the caller's policies."""
    import base64

    from moto.iam.access_control import IAMRequest
    from werkzeug.datastructures import Headers  # type: ignore[import-not-found]

    headers = Headers(request["headers"])
    if "Authorization" not in headers:
        raise PermissionError("Missing Authentication Token")
    checked = _request_class(IAMRequest, request["action"])(
        account_id=request["account"],
        method=request["method"],
        path=request["path"],
        data={},
        body=base64.b64decode(request["body"]),
        headers=headers,
        action=request["action"],
    )
    checked.check_signature()
    checked.check_action_permitted(request["resource"])
    return {"allowed": True}


def _assume_role(request: dict[str, Any]) -> dict[str, Any]:
    """Credentials of a function's execution role, assumed as Lambda's service principal does:
    the role must exist and trust lambda.amazonaws.com."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    account, region, arn = request["account"], request["region"], request["role_arn"]
    role = iam_backends[account]["aws"].get_role_by_arn(arn)
    if not trusts_lambda(role.assume_role_policy_document):
        raise PermissionError(
            f"The role defined for the function cannot be assumed by Lambda: {arn}"
        )
    assumed = sts_backends[account]["aws"].assume_role(
        region_name=region,
        role_session_name=request["session_name"],
        role_arn=arn,
        policy=None,
        duration=int(request["duration"]),
        external_id=None,
    )
    return {
        "AccessKeyId": assumed.access_key_id,
        "SecretAccessKey": assumed.secret_access_key,
        "SessionToken": assumed.session_token,
    }


def _local_api(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """`POST /lambda-complex/<authorize|assume-role>` with a JSON body: 200 and the answer, or
    403 and `{"code", "message"}` of what moto's IAM refused."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    request = json.loads(environ["wsgi.input"].read(length) or b"{}")
    name = environ.get("PATH_INFO", "").removeprefix(LOCAL_API)
    handlers = {"authorize": _authorize_invoke, "assume-role": _assume_role}
    try:
        status, answer = "200 OK", handlers[name](request)
    except KeyError:
        status, answer = "404 Not Found", {"code": "NotFound", "message": name}
    except Exception as e:  # moto's refusals (AccessDenied, SignatureDoesNotMatch, ...)
        code = getattr(e, "error_type", None) or type(e).__name__
        message = getattr(e, "message", None) or str(e)
        status, answer = "403 Forbidden", {"code": code, "message": message}
    body = json.dumps(answer).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _add_local_api() -> None:
    try:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    except ImportError:
        return
    original = DomainDispatcherApplication.__call__

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith(LOCAL_API):
            return _local_api(environ, start_response)
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call


def _patch_role_updates() -> None:
    """A stack update that changes a role's inline `Policies` changes them on AWS; moto's
    AWS::IAM::Role update keeps the old ones (with enforcement on, a redeploy that adds a
    routing target would then be denied locally though allowed on AWS). Apply them as IAM does:
    put every policy of the new template, delete those it no longer names."""
    try:
        from moto.iam import models
    except ImportError:
        return
    role_class: Any = getattr(models, "Role", None)
    original = getattr(role_class, "update_from_cloudformation_json", None)
    if original is None:
        return

    def update(cls: Any, original_resource: Any, new_resource_name: str,
               cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
        role = original.__func__(cls, original_resource, new_resource_name, cloudformation_json,
                                 account_id, region_name)
        policies = cloudformation_json.get("Properties", {}).get("Policies", [])
        wanted = {p["PolicyName"]: p["PolicyDocument"] for p in policies}
        for name in [n for n in role.policies if n not in wanted]:
            role.delete_policy(name)
        for name, document in wanted.items():
            role.put_policy(name, document if isinstance(document, str) else json.dumps(document))
        return role

    role_class.update_from_cloudformation_json = classmethod(update)


def patch() -> None:
    _patch_authorization()
    _patch_policy_documents()
    _patch_role_updates()
    _add_local_api()

