"""`lcbuild graph --format svg|png`: the routing graph drawn by the real Graphviz `dot`, the
image on stdout only when it is no terminal, and one sentence when Graphviz is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lambda_complex.builder.cli import cli

from ..conftest import missing_real_part

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "lambda-complex.yaml")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def dot() -> str:
    found = shutil.which("dot")
    if found is None:
        missing_real_part("Graphviz's dot is not installed (scripts/bootstrap installs it)")
    assert found is not None
    return found


def lcbuild(*args: str, **io: object) -> subprocess.CompletedProcess[bytes]:
    """The real console entry point, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "lambda_complex.builder.cli", *args],
                          capture_output="stdout" not in io, cwd=ROOT, check=False,
                          **io)  # type: ignore[call-overload]


def test_svg_to_a_file_names_each_component_with_type_and_limit(dot: str,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "graph.svg"
    result = CliRunner().invoke(cli, ["graph", "--format", "svg", "-o", str(out),
                                      "--app", EXAMPLE])
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg[:400] and svg.rstrip().endswith("</svg>")
    for label in ("render [queue, max 3]", "publish [invoke, max 4]", "routes:fan_out"):
        assert label in svg
    assert svg.count('class="edge"') == 5  # ingest->render, ingest->toc, render->publish, ...


def test_png_goes_to_stdout_when_it_is_a_pipe(dot: str) -> None:
    result = lcbuild("graph", "--format", "png", "--app", EXAMPLE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(PNG_MAGIC) and len(result.stdout) > 1000


def test_an_image_is_not_written_to_a_terminal(dot: str) -> None:
    master, slave = os.openpty()
    try:
        result = lcbuild("graph", "--format", "png", "--app", EXAMPLE, stdout=slave,
                         stderr=subprocess.PIPE)
    finally:
        os.close(slave)
        os.close(master)
    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        "error: --format png writes an image: give -o FILE, or redirect stdout to a file or a "
        "pipe")


def test_without_graphviz_one_sentence_says_how_to_get_it(tmp_path: Path) -> None:
    empty = tmp_path / "bin"  # a PATH without dot (the interpreter is called by its full path)
    empty.mkdir()
    result = lcbuild("graph", "--format", "svg", "-o", str(tmp_path / "g.svg"), "--app", EXAMPLE,
                     env={**os.environ, "PATH": str(empty)})
    assert result.returncode == 1 and result.stdout == b""
    message = result.stderr.decode()
    assert message.count("\n") == 1 and "Traceback" not in message
    assert message.startswith("error: drawing the graph as svg needs Graphviz's `dot` command, "
                              "which is not on PATH: install Graphviz (")
    assert "--format dot or --format mermaid" in message
    assert not (tmp_path / "g.svg").exists()


def test_text_formats_write_to_a_file_too(tmp_path: Path) -> None:
    out = tmp_path / "graph.dot"
    result = CliRunner().invoke(cli, ["graph", "--format", "dot", "-o", str(out),
                                      "--app", EXAMPLE])
    assert result.exit_code == 0 and result.output == ""
    assert out.read_text().startswith('digraph "sitegen" {')
