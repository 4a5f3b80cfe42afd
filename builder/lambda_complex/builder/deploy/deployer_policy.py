"""The least-privilege IAM policy of whoever deploys the app (`lcbuild doctor --policy`).

CloudFormation acts with the deployer's own credentials (no service role), so the deployer needs
every call CloudFormation makes for the three stacks, plus what lcbuild calls itself: the
switchover (SQS, SSM, event source mappings), `pause`/`resume` (SSM, event source mappings),
`images --push` (ECR), `redrive` (Lambda invoke) and `doctor` (reads). Every resource is an
exact name from `runtime.names`; the only wildcards are the SSM path of the app, what an action
allows on `*` only (Service Authorization Reference:
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html),
CloudFormation's stack ID suffix, and the ID Lambda gives an event source mapping (unknown before
it exists; writes to mappings are held to the app's functions by `lambda:FunctionArn`).
Regenerate it after renaming a component: the old names stay in use until the switchover removes
them, so deploy with both policies' names allowed.
"""

from __future__ import annotations

from typing import Any

from lambda_complex.builder.app import naming
from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common
from lambda_complex.builder.images.registry import partition_of
from lambda_complex.runtime import names

STACK_ACTIONS = (
    "cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
    "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResource", "cloudformation:DescribeStackResources",
    "cloudformation:ListStackResources", "cloudformation:GetTemplate",
    "cloudformation:GetTemplateSummary", "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet", "cloudformation:ListChangeSets",
)
ANY_RESOURCE_ACTIONS = (
    "cloudformation:ValidateTemplate", "cloudformation:ListStacks",
    "lambda:GetAccountSettings", "ecr:GetAuthorizationToken", "logs:DescribeLogGroups",
    "sts:GetCallerIdentity",
)
QUEUE_ACTIONS = (
    "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
    "sqs:GetQueueUrl", "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags",
    # the switchover moves messages, redrive puts dead letters back
    "sqs:ReceiveMessage", "sqs:SendMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
)
FUNCTION_ACTIONS = (
    "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
    "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration", "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency", "lambda:GetFunctionConcurrency",
    "lambda:PutFunctionEventInvokeConfig", "lambda:UpdateFunctionEventInvokeConfig",
    "lambda:DeleteFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig",
    "lambda:PutFunctionRecursionConfig", "lambda:GetFunctionRecursionConfig",
    "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy",
    "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags",
    # redrive of an invocation component's dead letters; the coordinator's schedule ticked by
    # the switchover and `resume`
    "lambda:InvokeFunction",
)
ROLE_ACTIONS = (
    "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:ListRolePolicies",
    "iam:ListAttachedRolePolicies", "iam:TagRole", "iam:UntagRole",
)
# Event source mappings (native components; `lcbuild pause`/`resume` and the switchover flip
# them): "DeleteEventSourceMapping, UpdateEventSourceMapping: Event source mapping, condition
# lambda:FunctionArn; CreateEventSourceMapping: *, lambda:FunctionArn; GetEventSourceMapping,
# ListEventSourceMappings: *, none"
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html#permissions-resources-eventsource).
MAPPING_CREATE_ACTIONS = ("lambda:CreateEventSourceMapping",)
MAPPING_WRITE_ACTIONS = ("lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping")
MAPPING_READ_ACTIONS = ("lambda:GetEventSourceMapping", "lambda:ListEventSourceMappings")
# CloudFormation tags a mapping with the stack's tags; tagging takes no lambda:FunctionArn.
MAPPING_TAG_ACTIONS = ("lambda:TagResource", "lambda:UntagResource", "lambda:ListTags")
LOG_GROUP_ACTIONS = (
    "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource",
    "logs:ListTagsForResource", "logs:FilterLogEvents",  # `lcbuild trace`
)
PARAMETER_ACTIONS = (
    "ssm:PutParameter", "ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
    "ssm:DeleteParameter", "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource",
    "ssm:ListTagsForResource",
)
RULE_ACTIONS = (
    "events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:EnableRule",
    "events:DisableRule", "events:PutTargets", "events:RemoveTargets",
    "events:ListTargetsByRule", "events:TagResource", "events:UntagResource",
)
REPOSITORY_ACTIONS = (
    "ecr:CreateRepository", "ecr:DescribeRepositories", "ecr:DescribeImages",
    "ecr:PutImageTagMutability", "ecr:PutImageScanningConfiguration", "ecr:PutLifecyclePolicy",
    "ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy",
    "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
)
TEMPLATE_BUCKET_ACTIONS = ("s3:ListBucket", "s3:CreateBucket", "s3:GetBucketLocation")
TEMPLATE_OBJECT_ACTIONS = ("s3:PutObject", "s3:GetObject")


def _statement(sid: str, actions: tuple[str, ...], resources: list[str],
               condition: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": list(actions),
                            "Resource": resources}
    if condition:
        data["Condition"] = condition
    return data


def mapping_statements(mapping_arn: str, functions: list[str]) -> list[dict[str, Any]]:
    """The statements for the event source mappings of `functions` (ARNs)."""
    of_functions = {"ArnEquals": {"lambda:FunctionArn": functions}}
    return [
        _statement("EventSourceMappingReads", MAPPING_READ_ACTIONS, ["*"]),
        _statement("CreateEventSourceMappings", MAPPING_CREATE_ACTIONS, ["*"], of_functions),
        _statement("EventSourceMappings", MAPPING_WRITE_ACTIONS, [mapping_arn], of_functions),
        _statement("EventSourceMappingTags", MAPPING_TAG_ACTIONS, [mapping_arn]),
    ]


def deployer_policy(app: App, account: str = "*",
                    template_bucket: str | None = None) -> dict[str, Any]:
    """The policy document; `account` "*" when the account is not known."""
    region, a = app.deployment.region, app.name
    prefix = f"arn:{partition_of(region)}"

    def arn(service: str, resource: str, in_region: bool = True) -> str:
        return f"{prefix}:{service}:{region if in_region else ''}:{account}:{resource}"

    functions = [names.function_name(a, c) for c in
                 (*app.component_names, names.COORDINATOR, names.INVOKER)]
    # Every message component's function, not only the native ones': a component that stops
    # being native has its mapping deleted by the deploy.
    mapped = [arn("lambda", f"function:{names.function_name(a, c.name)}")
              for c in app.components if c.has_queue]
    roles = sorted({naming.role_name(a, c) for c in
                    (*app.component_names, names.COORDINATOR, names.INVOKER)})
    statements = [
        _statement("Stacks", STACK_ACTIONS,
                   [arn("cloudformation", f"stack/{common.stack_name(app, s)}/*")
                    for s in common.STACKS]),
        _statement("AccountReads", ANY_RESOURCE_ACTIONS, ["*"]),
        _statement("Queues", QUEUE_ACTIONS,
                   [arn("sqs", spec.name) for spec in common.queue_specs(app)]),
        _statement("Functions", FUNCTION_ACTIONS,
                   [arn("lambda", f"function:{f}") for f in functions]),
        _statement("Roles", ROLE_ACTIONS, [arn("iam", f"role/{r}", False) for r in roles]),
        _statement("PassRolesToLambda", ("iam:PassRole",),
                   [arn("iam", f"role/{r}", False) for r in roles],
                   {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
        _statement("LogGroups", LOG_GROUP_ACTIONS,
                   [arn("logs", f"log-group:{common.log_group_name(f)}{suffix}")
                    for f in functions for suffix in ("", ":*")]),
        _statement("ControlParameters", PARAMETER_ACTIONS,
                   [arn("ssm", f"parameter{names.parameter_prefix(a)}*")]),
        _statement("CoordinatorSchedule", RULE_ACTIONS,
                   [arn("events", f"rule/{naming.schedule_rule_name(a)}")]),
    ]
    if mapped:
        statements += mapping_statements(arn("lambda", "event-source-mapping:*"), mapped)
    if app.deployment.registry == "ecr":
        statements.append(_statement("ImageRepositories", REPOSITORY_ACTIONS, [
            arn("ecr", f"repository/{naming.ecr_repository_name(a, c)}")
            for c in (*app.component_names, names.COORDINATOR)]))
    if template_bucket:
        bucket = f"{prefix}:s3:::{template_bucket}"
        statements.append(_statement("TemplateBucket", TEMPLATE_BUCKET_ACTIONS, [bucket]))
        statements.append(_statement("TemplateObjects", TEMPLATE_OBJECT_ACTIONS, [f"{bucket}/*"]))
    return {"Version": "2012-10-17", "Statement": statements}
