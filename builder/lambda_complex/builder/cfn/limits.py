"""CloudFormation's limit on a template sent inline, checked before CloudFormation refuses it.

A template passed as `TemplateBody` may be at most 51,200 bytes; up to 1 MB it must be uploaded
to S3 and passed as `TemplateURL`
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
Sceptre uploads the template when the project sets `template_bucket_name`; without it a large
app's functions stack would fail at CreateStack, after the queues stack already changed.
"""

from __future__ import annotations

from lambda_complex.builder.errors import UserError

TEMPLATE_BODY_MAX = 51_200
TEMPLATE_URL_MAX = 1_000_000
# Sceptre prefixes `---\n` to a body that lacks it (sceptre/template.py).
_SCEPTRE_PREFIX = len("---\n")
FIX = ("set `template_bucket_name: <an S3 bucket of this account>` in config/config.yaml, "
       "so Sceptre uploads templates to S3")


class TemplateTooLarge(UserError):
    pass


def body_size(body: str) -> int:
    """Bytes CloudFormation receives for the rendered `body`."""
    return len(body.encode("utf-8")) + _SCEPTRE_PREFIX


def size_problem(stack: str, body: str, template_bucket: str | None) -> str | None:
    """Why `stack`'s template cannot be deployed as it will be sent, or None."""
    size = body_size(body)
    if size > TEMPLATE_URL_MAX:
        return (f"stack '{stack}': the template is {size:,} bytes, over CloudFormation's "
                f"{TEMPLATE_URL_MAX:,}-byte limit even from S3: split the app into several")
    if size > TEMPLATE_BODY_MAX and not template_bucket:
        return (f"stack '{stack}': the template is {size:,} bytes, over CloudFormation's "
                f"{TEMPLATE_BODY_MAX:,}-byte limit for an inline template: {FIX}")
    return None


def check_size(stack: str, body: str, template_bucket: str | None) -> None:
    problem = size_problem(stack, body, template_bucket)
    if problem:
        raise TemplateTooLarge(problem)
