"""The real `sceptre` CLI for deploys to the local emulator, with its status polls shortened.

Sceptre sleeps 4 s after every stack status check (2 s for a change set): right against
CloudFormation, where a stack takes minutes, but against the emulator, whose stack operations are
done within the call, that sleep is all a local deploy waits for (three stacks: 12 s). Here the
same CLI runs (`sceptre.cli.cli`, the same plugins and hooks), its stack actions sleeping at most
POLL_S between checks. Run as `python -m lambda_complex.builder.local.aws.sceptre_local ARGS...`.
"""

from __future__ import annotations

import sys
import time
import types
from typing import Any

POLL_S = 0.2


class _ShortPolls(types.ModuleType):
    """`time` as sceptre's stack actions see it: every attribute as usual, `sleep` capped."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, POLL_S))


def main() -> None:
    from sceptre.cli import cli
    from sceptre.plan import actions

    actions.time = _ShortPolls("time")
    sys.exit(cli())


if __name__ == "__main__":
    main()
