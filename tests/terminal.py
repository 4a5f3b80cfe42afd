"""A real pseudo terminal for the tests of the live views: a command started on one as on a
user's terminal, what it drew read back, and the blocks it drew told apart."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Sequence

from lambda_complex.builder.local.run import live_table

HIDE, SHOW, CLEAR = live_table.HIDE_CURSOR, live_table.SHOW_CURSOR, live_table.CLEAR_BELOW
SGR = re.compile(r"\x1b\[[0-9;]*m")  # a colour code (what NO_COLOR must leave out)


def open_terminal(columns: int) -> tuple[int, int]:
    """A pseudo terminal `columns` wide and 24 lines high: (master, slave)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    return master, slave


def start_on(slave: int, args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`args` with the terminal as stdin, stdout and stderr; the slave is closed here, so the
    master reads end of file once the command ends. A terminal's Ctrl-C reaches the command; a
    SIGINT this process ignores (as a background job does) would be ignored by the child too,
    so the child starts with it as on a terminal."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(list(args), stdin=slave, stdout=slave, stderr=slave, env=env)
    finally:
        signal.signal(signal.SIGINT, previous)
        os.close(slave)


def read_until(fd: int, until: Callable[[str], bool], timeout: float) -> str:
    """What the terminal showed until `until(text so far)`, the other side closed, or
    `timeout` seconds."""
    got = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(got.decode(errors="replace")):
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            got += chunk
    return got.decode(errors="replace")


def frames(out: str) -> list[str]:
    """The blocks drawn, each as the text after its erase (up to the cursor shown again, which
    ends the last)."""
    return [part.split(HIDE)[-1].split(SHOW)[0] for part in out.split(CLEAR)[1:]]
