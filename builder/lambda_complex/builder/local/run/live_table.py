"""A table redrawn in place on a terminal: the drawing of `lcbuild local run`'s live view and of
`lcbuild status --watch`.

Pure: `line` and `table` make the lines for a width (cells made printable, a line longer than
the width cut with an ellipsis, colour only when asked), `redraw` the text that replaces the
block drawn before. The decisions `is_live` (a terminal that can move its cursor) and
`use_color` (the NO_COLOR convention, https://no-color.org/) are functions of data. `Screen` is
the thin edge that writes to the terminal.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import NamedTuple, TextIO, cast

GAP = "  "  # between two columns
ELLIPSIS = "…"
HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
CLEAR_BELOW = "\x1b[J"  # erase from the cursor to the end of the screen
_STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33"}


class Cell(NamedTuple):
    text: str
    style: str | None = None  # a key of _STYLES, shown only with colour


class Column(NamedTuple):
    title: str
    right: bool = False  # numbers: aligned right


def is_live(is_tty: bool, env: Mapping[str, str]) -> bool:
    """Redraw in place: only on a terminal that is not TERM=dumb (which cannot move its cursor);
    elsewhere (pipes, CI logs) the callers print plain lines."""
    return is_tty and env.get("TERM", "") != "dumb"


def use_color(env: Mapping[str, str]) -> bool:
    """No colour when NO_COLOR is set to anything but the empty string (https://no-color.org/)."""
    return not env.get("NO_COLOR")


def printable(text: str) -> str:
    """One line of text a cell can hold: control characters (newlines, escapes) become spaces,
    runs of white space one space."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _visible(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text)


def paint(text: str, style: str | None, color: bool) -> str:
    if not color or style is None or not text:
        return text
    return f"\x1b[{_STYLES[style]}m{text}\x1b[0m"


def fit(cells: Sequence[Cell], width: int) -> list[Cell]:
    """`cells` as one line of at most `width` characters: cut where it runs over, the last
    character kept for an ellipsis."""
    if sum(len(c.text) for c in cells) <= width:
        return list(cells)
    room = max(width - len(ELLIPSIS), 0)
    kept: list[Cell] = []
    for c in cells:
        if len(c.text) >= room:
            kept.append(Cell(c.text[:room], c.style))
            break
        kept.append(c)
        room -= len(c.text)
    return [*kept, Cell(ELLIPSIS if width >= len(ELLIPSIS) else "", None)]


def line(cells: Sequence[Cell], width: int, color: bool) -> str:
    """The cells side by side (as given: padding is the caller's), cut to `width`, trailing
    spaces dropped."""
    shown = fit([Cell(_visible(c.text), c.style) for c in cells], width)
    while shown and not shown[-1].text.strip():
        shown.pop()
    if shown:
        last = shown[-1]
        shown[-1] = Cell(last.text.rstrip(), last.style)
    return "".join(paint(c.text, c.style, color) for c in shown)


def table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int,
          color: bool) -> list[str]:
    """A title line and one line per row, each at most `width` characters: every column as wide
    as its widest cell, so what does not fit (the last column first: last error) is cut."""
    texts = [[printable(c.text) for c in row] for row in rows]
    widths = [max([len(col.title), *(len(r[i]) for r in texts)]) for i, col in enumerate(columns)]

    def cells(row: Sequence[str], styles: Sequence[str | None]) -> list[Cell]:
        found: list[Cell] = []
        last = len(columns) - 1
        for i, (col, text, style) in enumerate(zip(columns, row, styles, strict=True)):
            pad = Cell(" " * (widths[i] - len(text)))
            if i:
                found.append(Cell(GAP))
            if col.right:
                found += [pad, Cell(text, style)]
            else:  # the last column unpadded: nothing to cut after its text
                found += [Cell(text, style)] + ([pad] if i < last else [])
        return found

    lines = [line(cells([c.title for c in columns], ["bold"] * len(columns)), width, color)]
    for row, text in zip(rows, texts, strict=True):
        lines.append(line(cells(text, [c.style for c in row]), width, color))
    return lines


def clip(lines: Sequence[str], height: int) -> list[str]:
    """At most `height - 1` lines (the cursor needs the last row; a block taller than the
    screen could not be gone back over): the first ones and a line saying how many are left
    out."""
    if len(lines) < height:
        return list(lines)
    keep = max(height - 2, 0)
    return [*lines[:keep], f"{ELLIPSIS} {len(lines) - keep} more"]


def redraw(drawn: int, lines: Sequence[str]) -> str:
    """What replaces the `drawn` lines just above the cursor with `lines`: back to the start of
    the first of them, erase to the end of the screen, write the new ones."""
    up = f"\x1b[{drawn}A" if drawn else ""
    return "\r" + up + CLEAR_BELOW + "".join(f"{text}\n" for text in lines)


class Screen:
    """The block of lines at the bottom of a terminal stream, redrawn in place; the cursor is
    hidden until `close()`. While it is on sys.stderr, what others write there (the run's own
    messages, warnings) is printed above the block, which is then drawn again below it."""

    def __init__(self, stream: TextIO, color: bool) -> None:
        self.stream = stream
        self.color = color
        self._lines: list[str] = []
        self._lock = threading.RLock()
        self._above: _Above | None = None
        if stream is sys.stderr:
            self._above = _Above(self)
            sys.stderr = cast(TextIO, self._above)
        self._write(HIDE_CURSOR)

    def _size(self) -> os.terminal_size:
        try:
            return os.get_terminal_size(self.stream.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            return os.terminal_size((80, 24))

    def width(self) -> int:
        """Columns to draw in: one less than the terminal's, so that no terminal wraps a full
        line (a wrapped line would break the count of lines to move back over)."""
        return max(self._size().columns - 1, 20)

    def draw(self, lines: Sequence[str]) -> None:
        shown = clip(lines, max(self._size().lines, 3))
        with self._lock:
            self._write(redraw(len(self._lines), shown))
            self._lines = shown

    def print_above(self, texts: Sequence[str]) -> None:
        with self._lock:
            self._write(redraw(len(self._lines), [*texts, *self._lines]))

    def close(self) -> None:
        """The cursor shown again, sys.stderr given back; the last block stays on the screen."""
        with self._lock:
            if self._above is not None:
                rest = self._above.pending()
                if sys.stderr is cast(TextIO, self._above):
                    sys.stderr = self.stream
                self._above = None
                if rest:
                    self.print_above([rest])
            self._write(SHOW_CURSOR)

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class _Above:
    """Stands in for sys.stderr while a Screen is drawn there: whole lines go above the block.
    A text stream as far as its callers look (click, logging, print)."""

    def __init__(self, screen: Screen) -> None:
        self._screen = screen
        self._partial = ""
        self.encoding: str = getattr(screen.stream, "encoding", None) or "utf-8"
        self.errors: str | None = getattr(screen.stream, "errors", None)

    def isatty(self) -> bool:
        return self._screen.stream.isatty()

    def fileno(self) -> int:
        return self._screen.stream.fileno()

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass  # each whole line is written at once

    def write(self, s: str) -> int:
        if not isinstance(s, str):  # a text stream, as callers probing with b"" expect
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        *whole, self._partial = (self._partial + s).split("\n")
        if whole:
            self._screen.print_above(whole)
        return len(s)

    def pending(self) -> str:
        rest, self._partial = self._partial, ""
        return rest
