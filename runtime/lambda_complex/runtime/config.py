"""The compiled configuration baked into every image (`lambda_complex_config.json`).

The builder compiles it from the application definition (`builder/app/compile.py`); the runtime
only reads it. It is compact JSON, read once per container. A component's image holds the settings
of that component and of the components it routes to; the coordinator's image holds all of them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
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


# How a message component's invocations are started (`dispatch` in the definition):
# push: the coordinator's generations, and whoever sends to its queue when a slot is free
# (`push`); coordinator: the coordinator's generations only; native: Lambda's own SQS event
# source mapping (the coordinator leaves the component alone).
PUSH = "push"
COORDINATOR = "coordinator"
NATIVE = "native"
DISPATCH_KINDS = (PUSH, COORDINATOR, NATIVE)


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
    dispatch: str = PUSH

    @property
    def push(self) -> bool:
        """Whether senders to this component's queue start it themselves (see `push`)."""
        return self.type == EVENT_FROM_MESSAGE and self.dispatch == PUSH

    @property
    def native(self) -> bool:
        """Whether an SQS event source mapping starts this component (the coordinator does not)."""
        return self.type == EVENT_FROM_MESSAGE and self.dispatch == NATIVE

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
                dispatch=self.dispatch,
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
            dispatch=str(data.get("dispatch", PUSH)),
        )


def _setting(default: int, low: int, high: int, *, in_image: bool = True) -> int:
    """A coordinator setting: its default and the range the definition may set it to.
    `in_image`: whether the compiled config carries it (the runtime reads it)."""
    result: int = field(default=default, metadata={"range": (low, high), "in_image": in_image})
    return result


@dataclass(frozen=True)
class CoordinatorConfig:
    """The definition's `coordinator:` settings, defined here once: the builder's loader reads
    the YAML into this type (defaults and ranges from `_setting`), its templates deploy
    `memory` and `timeout`, and the runtime reads the rest from the compiled config.

    `memory` and `timeout` are the coordinator function's own deployed settings: the compiled
    config leaves them out, so resizing the coordinator changes no image (every image carries
    the coordinator settings)."""

    concurrency: int = _setting(1, 1, 10)  # coordinator chains
    max_api_concurrency: int = _setting(10, 1, 100)  # AWS calls in flight per coordinator
    max_invocations: int = _setting(20, 1, 1000)  # per coordinator/invoker before fanning out
    min_interval: int = _setting(10, 1, 600)  # seconds between coordinator generations
    # Seconds between looks at the entry queues while a generation waits for the next (0: off).
    entry_watch: int = _setting(1, 0, 60)
    # Seconds with nothing to do (no message queued, received or delayed, nothing in flight)
    # before a chain stops; the every-minute schedule wakes it when work comes (`chains`).
    # 0: chains never stop.
    idle_after: int = _setting(300, 0, 86400)
    memory: int = _setting(256, 128, 10240, in_image=False)  # MiB
    # A chain generation sleeps up to min_interval, then re-invokes itself.
    timeout: int = _setting(300, 1, 900, in_image=False)  # seconds

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata["in_image"]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CoordinatorConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in data.items() if k in known})


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
            coordinator=CoordinatorConfig.from_dict(coordinator),
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
