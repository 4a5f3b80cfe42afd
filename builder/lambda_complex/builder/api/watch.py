"""Watching the deployed application (`lcbuild status --watch`): the status as a table redrawn
in place on a terminal, the same drawing as `lcbuild local run`'s live view."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from lambda_complex.builder.deploy.status import Status
    from lambda_complex.builder.local.run.live_table import Screen

__all__ = ["live_screen", "status_lines"]


def live_screen(stream: TextIO) -> Screen | None:
    """A screen redrawn in place on `stream` (hiding the cursor until its `close()`) when it is
    a terminal that can move its cursor (not TERM=dumb); None elsewhere: print plain text then.
    Colour unless NO_COLOR is set."""
    from lambda_complex.builder.local.run import live_table

    if not live_table.is_live(stream.isatty(), os.environ):
        return None
    return live_table.Screen(stream, live_table.use_color(os.environ))


def status_lines(result: Status, width: int, color: bool, interval: float,
                 refreshed: datetime | None = None) -> list[str]:
    """`result` (from `status`) as the watch's table: at most `width` characters a line."""
    from lambda_complex.builder.local.run import live_view

    return live_view.status_lines(result, width, color, refreshed or datetime.now(),
                                  interval)
