"""CloudFormation templates of an application, built with troposphere: one module per stack
(queues, functions, coordinator), least-privilege IAM in `iam`, cfn-lint in `lint`."""
