"""The application definition (`lambda-complex.yaml`) as typed, immutable data.

Only `load.py` builds these objects, after validating everything, so code that receives an `App`
may trust it: names are valid, routing targets exist, roles are defined, paths hold the handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

# The coordinator's settings: the runtime reads them from the compiled config, so the model holds
# the runtime's type, where their defaults and ranges are defined.
from lambda_complex.runtime.config import NATIVE, PUSH
from lambda_complex.runtime.config import CoordinatorConfig as CoordinatorConfig

# Where a component's results go: the compiled runtime config carries the same value, so the
# model uses the runtime's type (fixed components, or a `module:function` with optional targets).
from lambda_complex.runtime.config import Routing as Routing


class ComponentType(StrEnum):
    EVENT_FROM_MESSAGE = "event_from_message"  # fed by its own queue, started by the coordinator
    EVENT_FROM_INVOCATION = "event_from_invocation"  # invoked directly (async) by other components


class Architecture(StrEnum):
    X86_64 = "x86_64"
    ARM64 = "arm64"

    @property
    def docker_platform(self) -> str:
        return "linux/amd64" if self is Architecture.X86_64 else "linux/arm64"


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, object] | None = None


@dataclass(frozen=True)
class Role:
    name: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class LambdaSettings:
    path: Path  # the component's folder, resolved against the definition's folder
    handler: str  # module.function
    memory: int = 256
    timeout: int = 60
    role: str | None = None
    architecture: Architecture = Architecture.X86_64
    environment: dict[str, str] = field(default_factory=dict)
    # Packages the build stage installs with dnf before pip (headers for C extensions).
    build_packages: tuple[str, ...] = ()

    @property
    def handler_module(self) -> str:
        return self.handler.rsplit(".", 1)[0]


@dataclass(frozen=True)
class Component:
    name: str
    type: ComponentType
    lambda_: LambdaSettings
    max_concurrency: int = 1
    routing: Routing = field(default_factory=Routing)
    # Only for event_from_message:
    queue_wait_time: int = 0
    batch_size: int = 1
    max_receive_count: int = 3
    visibility_timeout: int = 0
    dispatch: str = PUSH  # one of runtime.config.DISPATCH_KINDS
    # Only with dispatch native: the event source mapping's MaximumBatchingWindowInSeconds.
    batching_window: int = 0
    # Names this component had before: its deployed queues (and their messages) pass to it.
    renamed_from: tuple[str, ...] = ()

    @property
    def has_queue(self) -> bool:
        return self.type is ComponentType.EVENT_FROM_MESSAGE

    @property
    def native(self) -> bool:
        """Whether Lambda's SQS event source mapping starts it (not the coordinator or push)."""
        return self.has_queue and self.dispatch == NATIVE

    @property
    def has_lease_queue(self) -> bool:
        """Whether its invocations are counted in a lease queue: those the coordinator or a
        pushing sender starts. A native component's limit is the mapping's MaximumConcurrency."""
        return self.has_queue and not self.native


@dataclass(frozen=True)
class Deployment:
    region: str = "eu-west-1"
    registry: str = "ecr"
    tags: dict[str, str] = field(default_factory=dict)
    switchover: str | None = None


@dataclass(frozen=True)
class App:
    name: str
    version: str
    source: Path  # the lambda-complex.yaml this was loaded from
    deployment: Deployment
    coordinator: CoordinatorConfig
    roles: tuple[Role, ...]
    components: tuple[Component, ...]
    max_hops: int = 32

    @property
    def root(self) -> Path:
        return self.source.parent

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise KeyError(name)

    def role(self, name: str) -> Role:
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(name)

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components)
