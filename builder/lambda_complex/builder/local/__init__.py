"""The application on one machine (`lcbuild local ...`), in three parts, each importing only those
below it (an import-linter contract in the root pyproject):

- `run`: the run itself: the testbed behind `lcbuild local run`, its report and live progress, its
  files, and `lcbuild local invoke`;
- `lambda_service`: the local Lambda service: `Invoke` on loopback, warm instances (processes or
  containers) speaking the Runtime API, concurrency, asynchronous queues and retries, and the
  event sources that invoke functions (schedules);
- `aws`: the glue to the AWS emulator: moto in server mode (`aws/emulator_server`, a script its
  own interpreter runs), its provisioned environment, IAM identities, the SQS tap, and the stack
  group deployed with the real `sceptre` CLI.

`cache` holds the folders all three build once and reuse.
"""
