"""The pause switch in SSM."""

from __future__ import annotations

from lambda_complex.runtime import control


def test_only_running_dispatches() -> None:
    """`deploying` (the switchover hook's own pause) stops dispatch as `paused` does."""
    assert not control.value_means_paused(None)
    assert not control.value_means_paused("running")
    for value in ("paused", "deploying", "anything else"):
        assert control.value_means_paused(value)
