"""The Python API of the definition commands (the deploy and the operator commands through the API
are tested with the real sceptre CLI in test_sceptre_emulator.py)."""

from __future__ import annotations

from pathlib import Path

from lambda_complex.builder import api


def test_the_api_of_the_definition_commands(tmp_path: Path) -> None:
    created = api.init(tmp_path / "shop")
    app_file = tmp_path / "shop" / "lambda-complex.yaml"
    assert app_file in created
    assert api.validate(app_file) == []
    app = api.load(app_file)
    assert app.name == "shop"
    text = api.graph(app)
    assert all(name in text for name in app.component_names)
    assert api.graph(app, "mermaid").startswith("flowchart LR")
