"""The routing graph drawn as an image (SVG or PNG) by Graphviz's `dot`, from the graph's dot
text (`graph.render(app, "dot")`): a thin edge over the `dot` command, which is not a Python
dependency (https://graphviz.org/doc/info/command.html: `dot -Tsvg` reads the graph on stdin
and writes the image on stdout)."""

from __future__ import annotations

import shutil
import subprocess

from lambda_complex.builder.errors import UserError

IMAGE_FORMATS = ("svg", "png")
DOT = "dot"
TIMEOUT_S = 60.0
INSTALL_HINT = ("install Graphviz (https://graphviz.org/download/: `apt-get install graphviz`, "
                "`dnf install graphviz`, `brew install graphviz`) or print the graph's text with "
                "--format dot or --format mermaid")


def draw(dot_text: str, fmt: str) -> bytes:
    """The image of `dot_text` in `fmt` (IMAGE_FORMATS); a UserError when `dot` is not on PATH
    or fails."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; choose one of {', '.join(IMAGE_FORMATS)}")
    executable = shutil.which(DOT)
    if executable is None:
        raise UserError(f"drawing the graph as {fmt} needs Graphviz's `{DOT}` command, which is "
                        f"not on PATH: {INSTALL_HINT}")
    try:
        done = subprocess.run([executable, f"-T{fmt}"], input=dot_text.encode(),
                              capture_output=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise UserError(f"{executable} -T{fmt} did not draw the graph: {e}") from None
    if done.returncode != 0 or not done.stdout:
        message = " ".join(done.stderr.decode(errors="replace").split()) or "no output"
        raise UserError(f"{executable} -T{fmt} failed (exit {done.returncode}): {message}")
    return done.stdout
