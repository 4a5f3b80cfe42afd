"""The pause switch: SSM parameter `names.control_parameter_name(app)`, "running" or "paused".

While paused the coordinator chains keep their heartbeats but dispatch nothing; queued messages
stay queued. A missing parameter means running, so a fresh deployment needs no set-up step.
`lcbuild pause/resume` call set_paused; they may pass their own client (region, profile).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import names, resources

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

RUNNING = "running"
PAUSED = "paused"


def set_paused(app: str, paused: bool, ssm: SSMClient | None = None) -> None:
    (ssm or resources.ssm()).put_parameter(
        Name=names.control_parameter_name(app),
        Value=PAUSED if paused else RUNNING,
        Type="String",
        Overwrite=True,
    )


def value_means_paused(value: str | None) -> bool:
    return value is not None and value.strip() == PAUSED


def is_paused(app: str, ssm: SSMClient | None = None) -> bool:
    client = ssm or resources.ssm()
    try:
        value = client.get_parameter(Name=names.control_parameter_name(app))["Parameter"]["Value"]
    except client.exceptions.ParameterNotFound:
        return False
    return value_means_paused(value)
