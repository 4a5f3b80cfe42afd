"""The pause switch: SSM parameter `names.control_parameter_name(app)`.

The coordinator dispatches only while it reads `running` (or no parameter: a fresh deployment
needs no set-up step). Any other value stops dispatching: `paused` (`lcbuild pause`) and
`deploying` (set by the switchover hook for the length of a deploy, so that two versions'
coordinators never dispatch at once). While stopped the chains keep their heartbeats; queued
messages stay queued.
The values are the contract: the coordinator reads them here, the builder writes them
(`lcbuild pause/resume`, deploy/pause.py; the switchover, deploy/switchover_plan.py).
"""

from __future__ import annotations

RUNNING = "running"
PAUSED = "paused"
DEPLOYING = "deploying"  # written by the builder's switchover hook for the length of a deploy


def value_means_paused(value: str | None) -> bool:
    return value is not None and value.strip() != RUNNING
