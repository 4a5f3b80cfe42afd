"""Compile the definition into the runtime configuration baked into each image.

A component's image holds its own settings and those of the components it may route to (so a
change elsewhere in the application does not change its image); the coordinator's image holds all.
A routing function without declared targets may route anywhere, so its image holds every component.
"""

from __future__ import annotations

import dataclasses

from lambda_complex.builder.app.model import App, Component
from lambda_complex.runtime import config, names


def component_config(component: Component) -> config.ComponentConfig:
    base = config.ComponentConfig(
        name=component.name,
        type=component.type.value,
        max_concurrency=component.max_concurrency,
        timeout=component.lambda_.timeout,
        handler=component.lambda_.handler,
        routing=component.routing,
    )
    if not component.has_queue:
        return base
    return dataclasses.replace(
        base,
        batch_size=component.batch_size,
        queue_wait_time=component.queue_wait_time,
        max_receive_count=component.max_receive_count,
        visibility_timeout=component.visibility_timeout,
        dispatch=component.dispatch,
    )


def _runtime_config(app: App, component: str, members: list[Component]) -> config.RuntimeConfig:
    return config.RuntimeConfig(
        app=app.name,
        version=app.version,
        component=component,
        max_hops=app.max_hops,
        coordinator=app.coordinator,
        components={m.name: component_config(m) for m in members},
    )


def for_component(app: App, name: str) -> config.RuntimeConfig:
    component = app.component(name)
    wanted = {name, *component.routing.possible_targets(app.component_names)}
    members = [c for c in app.components if c.name in wanted]
    return _runtime_config(app, name, members)


def for_coordinator(app: App) -> config.RuntimeConfig:
    """Config of the coordinator/invoker image: every component."""
    return _runtime_config(app, names.COORDINATOR, list(app.components))
