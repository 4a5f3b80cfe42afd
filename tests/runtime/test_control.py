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
