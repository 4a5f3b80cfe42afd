"""The pause switch: SSM parameter `names.control_parameter_name(app)`.

The coordinator dispatches only while it reads `running` (or no parameter: a fresh deployment
needs no set-up step). Any other value stops dispatching: `paused` (`lcbuild pause`) and
`deploying` (set by the switchover hook for the length of a deploy, so that two versions'
coordinators never dispatch at once). While stopped the chains keep their heartbeats; queued
messages stay queued.
`lcbuild pause/resume` call set_paused; they may pass their own client (region, profile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import names, resources

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

RUNNING = "running"
PAUSED = "paused"
DEPLOYING = "deploying"  # written by the builder's switchover hook for the length of a deploy


def set_paused(app: str, paused: bool, ssm: SSMClient | None = None) -> None:
    (ssm or resources.ssm()).put_parameter(
        Name=names.control_parameter_name(app),
        Value=PAUSED if paused else RUNNING,
        Type="String",
        Overwrite=True,
    )


def value_means_paused(value: str | None) -> bool:
    return value is not None and value.strip() != RUNNING


def is_paused(app: str, ssm: SSMClient | None = None) -> bool:
    client = ssm or resources.ssm()
    try:
        value = client.get_parameter(Name=names.control_parameter_name(app))["Parameter"]["Value"]
    except client.exceptions.ParameterNotFound:
        return False
    return value_means_paused(value)
