"""Syntax of the resources in a role's IAM statements: `*` or an ARN,
`arn:partition:service:region:account-id:resource`
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html). A malformed ARN would
otherwise surface only when the rendered template is linted or deployed.

Wildcards `*` and `?` may stand in any segment but the service, and a `*` ending a segment may
match across colons, so `arn:aws:sqs:*` is valid with fewer segments
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
Policy variables such as `${aws:username}` may appear in the resource part.
"""

from __future__ import annotations

import re

from lambda_complex.builder.app.fields import join

ARN_FORMAT = "arn:partition:service:region:account-id:resource"
_SEGMENTS = 6
_PARTITION = re.compile(r"aws(-[a-z]+)*|[a-z*?-]*\*[a-z*?-]*")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]*")
_REGION = re.compile(r"[a-z0-9*?-]*")
# Twelve digits; `aws` for AWS-owned resources (managed policies); wildcards.
_ACCOUNT = re.compile(r"(\d{12}|aws|[0-9]*[*?][0-9*?]*)?")
_RESOURCE = re.compile(r"\S+")


def arn_problem(text: str) -> str | None:
    """Why `text` is not `*` or an ARN, or None when it is one."""
    if text == "*":
        return None
    parts = text.split(":", _SEGMENTS - 1)
    if parts[0] != "arn":
        return f"'{text}' is not '*' or an ARN ({ARN_FORMAT})"
    if len(parts) < _SEGMENTS:
        if parts[-1].endswith("*") and len(parts) >= 3 and _SERVICE.fullmatch(parts[2]):
            return None  # a trailing `*` matches the remaining segments
        return (f"'{text}' has {len(parts)} of the {_SEGMENTS} colon-separated parts of an ARN "
                f"({ARN_FORMAT})")
    _, partition, service, region, account, resource = parts
    checks = (
        (_PARTITION, partition, "partition", "'aws', 'aws-cn' or 'aws-us-gov'"),
        (_SERVICE, service, "service", "a service namespace such as 's3' (no wildcards)"),
        (_REGION, region, "region", "a region such as 'eu-west-1', '*' or empty"),
        (_ACCOUNT, account, "account", "a 12-digit account ID, '*' or empty"),
        (_RESOURCE, resource, "resource", "a resource name or path without spaces"),
    )
    for pattern, segment, what, rule in checks:
        if not pattern.fullmatch(segment):
            return f"'{text}': {what} '{segment}' is not valid: {rule} ({ARN_FORMAT})"
    return None


def resource_problems(path: str, raw: object, resources: tuple[str, ...]) -> list[tuple[str, str]]:
    """(field path, message) for each invalid resource of a statement; `raw` tells whether the
    field was written as one string (path `resource`) or a list (paths `resource[i]`)."""
    listed = isinstance(raw, list)
    found: list[tuple[str, str]] = []
    for index, resource in enumerate(resources):
        problem = arn_problem(resource)
        if problem is not None:
            found.append((join(path, index) if listed else path, problem))
    return found
