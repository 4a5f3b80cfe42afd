"""The compiled configuration baked into every image (`lambda_complex_config.json`).

The builder compiles it from the application definition (`builder/app/compile.py`); the runtime
only reads it. It is compact JSON, read once per container. A component's image holds the settings
of that component and of the components it routes to; the coordinator's image holds all of them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pathlib costs import time at every cold start; strings suffice here
    from collections.abc import Iterable
    from pathlib import Path

SCHEMA_VERSION = 1
CONFIG_FILE_NAME = "lambda_complex_config.json"
# Where the config lives inside an image; LAMBDA_COMPLEX_CONFIG overrides it (local process mode).
CONFIG_PATH_ENV = "LAMBDA_COMPLEX_CONFIG"

EVENT_FROM_MESSAGE = "event_from_message"
EVENT_FROM_INVOCATION = "event_from_invocation"


@dataclass(frozen=True)
class Routing:
    """Either fixed target components, or a `module:function` that decides per result.

    With a function, `components` (when not empty) lists the only targets it may choose: the
    definition declared them, so IAM grants nothing more and the wrapper refuses any other."""

    components: tuple[str, ...] = ()
    function: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"components": list(self.components)}
        if self.function is not None:
            data["function"] = self.function
        return data

    def possible_targets(self, components: Iterable[str]) -> tuple[str, ...]:
        """Every component a result may go to: the listed ones, or with a routing function that
        declares none, any of `components`."""
        if self.function is not None and not self.components:
            return tuple(components)
        return self.components

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Routing:
        function = data.get("function")
        return cls(
            components=tuple(str(c) for c in data.get("components", ())),
            function=None if function is None else str(function),
        )


@dataclass(frozen=True)
class ComponentConfig:
    name: str
    type: str
    max_concurrency: int
    timeout: int
    handler: str
    routing: Routing = field(default_factory=Routing)
    batch_size: int = 1
    queue_wait_time: int = 0
    max_receive_count: int = 3
    visibility_timeout: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "max_concurrency": self.max_concurrency,
            "timeout": self.timeout,
            "handler": self.handler,
            "routing": self.routing.to_dict(),
        }
        if self.type == EVENT_FROM_MESSAGE:
            data.update(
                batch_size=self.batch_size,
                queue_wait_time=self.queue_wait_time,
                max_receive_count=self.max_receive_count,
                visibility_timeout=self.visibility_timeout,
            )
        return data

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any]) -> ComponentConfig:
        return cls(
            name=name,
            type=str(data["type"]),
            max_concurrency=int(data["max_concurrency"]),
            timeout=int(data["timeout"]),
            handler=str(data["handler"]),
            routing=Routing.from_dict(data.get("routing", {})),
            batch_size=int(data.get("batch_size", 1)),
            queue_wait_time=int(data.get("queue_wait_time", 0)),
            max_receive_count=int(data.get("max_receive_count", 3)),
            visibility_timeout=int(data.get("visibility_timeout", 0)),
        )


@dataclass(frozen=True)
class CoordinatorConfig:
    concurrency: int = 1
    max_api_concurrency: int = 10
    max_invocations: int = 20
    min_interval: int = 10

    def to_dict(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "max_api_concurrency": self.max_api_concurrency,
            "max_invocations": self.max_invocations,
            "min_interval": self.min_interval,
        }


@dataclass(frozen=True)
class RuntimeConfig:
    """`component` is the component this image runs, or `coordinator` for the coordinator/invoker
    image, whose `components` holds every component of the application."""

    app: str
    version: str
    component: str
    components: dict[str, ComponentConfig]
    coordinator: CoordinatorConfig = field(default_factory=CoordinatorConfig)
    max_hops: int = 32

    @property
    def own(self) -> ComponentConfig:
        return self.components[self.component]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "app": self.app,
            "version": self.version,
            "component": self.component,
            "max_hops": self.max_hops,
            "coordinator": self.coordinator.to_dict(),
            "components": {n: c.to_dict() for n, c in sorted(self.components.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RuntimeConfig:
        if data.get("schema") != SCHEMA_VERSION:
            raise ValueError(
                f"runtime config schema {data.get('schema')!r} is not {SCHEMA_VERSION}: "
                "rebuild the images with this version of lambda-complex"
            )
        coordinator = data.get("coordinator", {})
        return cls(
            app=str(data["app"]),
            version=str(data["version"]),
            component=str(data["component"]),
            max_hops=int(data.get("max_hops", 32)),
            coordinator=CoordinatorConfig(**{k: int(v) for k, v in coordinator.items()}),
            components={
                name: ComponentConfig.from_dict(name, c) for name, c in data["components"].items()
            },
        )


def default_config_path() -> str:
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    return os.environ.get(CONFIG_PATH_ENV, os.path.join(task_root, CONFIG_FILE_NAME))


def load(path: str | Path | None = None) -> RuntimeConfig:
    """Read the compiled config; callers cache the result once per container."""
    with open(path or default_config_path(), encoding="utf-8") as f:
        return RuntimeConfig.from_dict(json.load(f))
