"""The pause switch in SSM."""

from __future__ import annotations

from rt_support import APP, Runtime

from lambda_complex.runtime import control, names


def test_pause_and_resume(rt: Runtime) -> None:
    assert not control.is_paused(APP)  # missing parameter: running
    control.set_paused(APP, True)
    assert control.is_paused(APP)
    value = rt.ssm.get_parameter(Name=names.control_parameter_name(APP))["Parameter"]["Value"]
    assert value == "paused"
    control.set_paused(APP, False, ssm=rt.ssm)
    assert not control.is_paused(APP, ssm=rt.ssm)


def test_only_running_dispatches() -> None:
    """`deploying` (the switchover hook's own pause) stops dispatch as `paused` does."""
    assert not control.value_means_paused(None)
    assert not control.value_means_paused("running")
    for value in ("paused", "deploying", "anything else"):
        assert control.value_means_paused(value)
