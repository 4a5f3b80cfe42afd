"""`renamed_from`: the names a component had before, so a deploy moves its queues' messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambda_complex.builder.app import load
from lambda_complex.builder.errors import DefinitionError

APP = """\
name: shop
components:
  - name: sink
    type: event_from_message
    renamed_from: {earlier}
    lambda: {{path: code, handler: h.handler}}
  - name: other
    type: event_from_message
    renamed_from: {other}
    lambda: {{path: code, handler: h.handler}}
"""


def _load(tmp_path: Path, earlier: str, other: str = "gone") -> load.App:
    (tmp_path / "code").mkdir(exist_ok=True)
    (tmp_path / "code" / "h.py").write_text("def handler(event, context):\n    return event\n")
    source = tmp_path / "lambda-complex.yaml"
    source.write_text(APP.format(earlier=earlier, other=other))
    return load.load(source)


def test_earlier_names_are_read(tmp_path: Path) -> None:
    app = _load(tmp_path, "s3")
    assert app.component("sink").renamed_from == ("s3",)
    assert _load(tmp_path, "[s3, store]").component("sink").renamed_from == ("s3", "store")


@pytest.mark.parametrize(("earlier", "other", "expected"), [
    ("other", "gone", "components[0].renamed_from[0]: 'other' is the name of a component"),
    ("old", "old", "components[1].renamed_from[0]: 'old' is also listed by component 'sink'"),
    ("'bad name'", "gone", "components[0].renamed_from[0]: 'bad name' is not valid"),
])
def test_bad_earlier_names_are_refused(tmp_path: Path, earlier: str, other: str,
                                       expected: str) -> None:
    with pytest.raises(DefinitionError) as error:
        _load(tmp_path, earlier, other)
    assert expected in str(error.value)
