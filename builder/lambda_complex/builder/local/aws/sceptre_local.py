"""The real `sceptre` CLI for deploys to the local emulator, with its status polls shortened.

Sceptre sleeps 4 s after every stack status check (2 s for a change set), the last one
included: right against CloudFormation, where a stack takes minutes, but against the emulator,
whose stack operations are done within the call, that sleep is all a local deploy waits for (three
stacks: 12 s). Here the same CLI runs (`sceptre.cli.cli`, the same plugins and hooks), its stack
actions sleeping at most POLL_S between checks (each stack still pays one: the sleep after the
check that saw it complete).

Run as `python -m lambda_complex.builder.local.aws.sceptre_local [--env-from FILE] ARGS...`.
With `--env-from`, it imports sceptre and our plugins first (a second or more), then waits for
FILE (JSON: environment variables, such as the deployer's credentials, which exist only once the
emulator is up), adds them to its environment, removes the file and runs the CLI: a local run
starts it alongside the emulator, so those imports overlap the emulator's start.
"""

from __future__ import annotations

import json
import os
import sys
import time
import types
from pathlib import Path
from typing import Any

POLL_S = 0.05
ENV_FROM = "--env-from"
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


def main() -> None:
    env_from, args = take_env_from(sys.argv[1:])
    from sceptre.cli import cli
    from sceptre.plan import actions

    import lambda_complex.builder.sceptre.handler
    import lambda_complex.builder.sceptre.hooks
    import lambda_complex.builder.sceptre.resolvers  # noqa: F401 (loaded before the wait)

    actions.time = _ShortPolls("time")
    if env_from is not None:
        os.environ.update(wait_for_env(env_from))
    sys.argv[1:] = args
    sys.exit(cli())


if __name__ == "__main__":
    main()
