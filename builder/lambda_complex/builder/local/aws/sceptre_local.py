"""The real `sceptre` CLI for deploys to the local emulator, with its status polls shortened.

Sceptre sleeps 4 s after every stack status check (2 s for a change set), the last one
included: right against CloudFormation, where a stack takes minutes, but against the emulator,
whose stack operations are done within the call, that sleep is all a local deploy waits for (three
stacks: 12 s). Here the same CLI runs (`sceptre.cli.cli`, the same plugins and hooks), its stack
actions sleeping at most POLL_S between checks (each stack still pays one: the sleep after the
check that saw it complete).

Run as `python -m lambda_complex.builder.local.aws.sceptre_local [--env-from FILE] [--local-run]
ARGS...`.
With `--env-from`, it imports sceptre and our plugins first (a second or more), then waits for
FILE (JSON: environment variables, such as the deployer's credentials, which exist only once the
emulator is up), adds them to its environment, removes the file and runs the CLI: a local run
starts it alongside the emulator, so those imports overlap the emulator's start, and so does the
loading of the botocore data the deploy needs (`preload_service_models`), which every boto3
session of the process then shares. With `--local-run` (a local run's deploy) the hooks skip
the account checks (`hooks.EMULATOR`). The process exits as soon as the CLI and the exit
handlers are done (`_run_cli`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import time
import types
from pathlib import Path
from typing import Any, NoReturn

POLL_S = 0.05
ENV_FROM = "--env-from"
# The deploy of a local run (placeholder images, the deployer it made): no account checks.
LOCAL_RUN = "--local-run"
ENV_WAIT_S = 120.0  # the emulator's start and the deployer's creation, with room to spare


class _ShortPolls(types.ModuleType):
    """`time` as sceptre's stack actions see it: every attribute as usual, `sleep` capped."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, POLL_S))


def take_env_from(argv: list[str]) -> tuple[Path | None, list[str]]:
    """(FILE of `--env-from FILE`, the other arguments)."""
    if ENV_FROM not in argv:
        return None, argv
    at = argv.index(ENV_FROM)
    if at + 1 >= len(argv):
        raise SystemExit(f"{ENV_FROM} needs a file")
    return Path(argv[at + 1]), [*argv[:at], *argv[at + 2:]]


def wait_for_env(path: Path, timeout: float = ENV_WAIT_S) -> dict[str, str]:
    """The variables in `path` once it exists (written whole, by rename), then removed."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() >= deadline:
            raise SystemExit(f"{path} did not appear within {timeout:.0f} s: no deploy")
        time.sleep(0.02)
    found = json.loads(path.read_text(encoding="utf-8"))
    path.unlink(missing_ok=True)  # it holds credentials: read once
    return {str(k): str(v) for k, v in found.items()}


# What a deploy calls: sceptre (CloudFormation), its hooks (the rest).
DEPLOY_SERVICES = ("cloudformation", "sts", "ssm", "sqs", "lambda")


def preload_service_models() -> None:
    """Load the botocore data of the services a deploy calls (half a second and more of
    JSON) while the emulator starts: with the loaders sharing what they load
    (`serve.share_loaded_data`), every session sceptre and the hooks make then finds it."""
    import botocore.session

    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    session.get_data("endpoints")
    for service in DEPLOY_SERVICES:
        for kind in ("service-2", "endpoint-rule-set-1"):
            with contextlib.suppress(Exception):  # a missing file: loaded (or not) on demand
                loader.load_service_model(service, kind)


def main() -> None:
    env_from, args = take_env_from(sys.argv[1:])
    local_run = LOCAL_RUN in args
    args = [a for a in args if a != LOCAL_RUN]
    from sceptre.cli import cli
    from sceptre.plan import actions

    import lambda_complex.builder.sceptre.handler
    import lambda_complex.builder.sceptre.resolvers  # noqa: F401 (loaded before the wait)
    from lambda_complex.builder.local.aws.emulator_server import serve
    from lambda_complex.builder.sceptre import hooks

    actions.time = _ShortPolls("time")
    hooks.EMULATOR = local_run
    serve.share_loaded_data()
    if env_from is not None:
        preload_service_models()
        os.environ.update(wait_for_env(env_from))
    sys.argv[1:] = args
    _run_cli(cli)


def _run_cli(cli: Any) -> NoReturn:
    """The CLI, then exit at once with its code once the exit handlers (the switchover's
    restore among them) have run and the output is flushed. Python's own finalization, which
    tears down every module sceptre, cfn-lint and boto3 loaded, added a second or more to every
    local deploy, spent after the deploy was done."""
    try:
        cli()
        code: Any = 0
    except SystemExit as e:
        code = e.code
    atexit._run_exitfuncs()
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
