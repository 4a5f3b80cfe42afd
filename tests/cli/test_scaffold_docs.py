"""A new application's README is its documentation (an installed tool has no checkout to point
at): it carries the definition reference, the same text as this repository's README."""

from __future__ import annotations

import re
from pathlib import Path

from lambda_complex.builder import scaffold

ROOT = Path(__file__).resolve().parents[2]


def _definition_reference(text: str) -> str:
    section = text[text.index("## The application definition"):]
    match = re.search(r"```yaml\n.*?```\n", section, re.DOTALL)
    assert match is not None
    return match.group(0)


def test_the_new_projects_readme_holds_the_definition_reference(tmp_path: Path) -> None:
    scaffold.create(tmp_path / "shop")
    readme = (tmp_path / "shop" / "README.md").read_text()
    assert readme.startswith("# shop\n")
    assert _definition_reference(readme) == _definition_reference(
        (ROOT / "README.md").read_text())
    definition = (tmp_path / "shop" / "lambda-complex.yaml").read_text()
    assert "README.md beside this file" in definition and "lambda-complex README" not in definition
