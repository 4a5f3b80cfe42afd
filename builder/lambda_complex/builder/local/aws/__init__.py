"""The glue to the AWS emulator: moto in server mode as its own process and environment, the
identities IAM is enforced for, the counting SQS tap, and the stack group deployed to it with the
real `sceptre` CLI."""
