"""The application definition: load and check it, draw its routing graph, scaffold a new one
(`lcbuild validate`, `graph`, `init`). No AWS, no Docker (an image of the graph runs Graphviz)."""

from __future__ import annotations

from pathlib import Path

from lambda_complex.builder.app import graph as app_graph
from lambda_complex.builder.app import graph_image as app_graph_image
from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import DefinitionError, FieldError

DEFAULT_FILE = app_load.DEFAULT_FILE
IMAGE_FORMATS = app_graph_image.IMAGE_FORMATS  # drawn by Graphviz's `dot`: binary output
GRAPH_FORMATS = (*app_graph.FORMATS, *IMAGE_FORMATS)


def load(path: str | Path = DEFAULT_FILE) -> App:
    """The definition at `path`; DefinitionError lists every problem, each with its field path."""
    return app_load.load(path)


def validate(path: str | Path = DEFAULT_FILE) -> list[FieldError]:
    """Every problem of the definition at `path`; empty when it is valid."""
    try:
        app_load.load(path)
    except DefinitionError as e:
        return e.errors
    return []


def graph(app: App, fmt: str = "text") -> str:
    """The routing graph as text, Mermaid or Graphviz dot (app_graph.FORMATS)."""
    return app_graph.render(app, fmt)


def graph_image(app: App, fmt: str = "svg") -> bytes:
    """The routing graph drawn as an SVG or PNG image (IMAGE_FORMATS): each component with its
    type and limit, edges as routed. Needs Graphviz's `dot` on PATH (a UserError says how to
    install it otherwise)."""
    return app_graph_image.draw(app_graph.render(app, "dot"), fmt)


def init(directory: Path, name: str | None = None) -> list[Path]:
    """A new application in `directory` (the files created, in order)."""
    from lambda_complex.builder import scaffold  # its templates: only `lcbuild init` reads them

    return scaffold.create(directory, name)
