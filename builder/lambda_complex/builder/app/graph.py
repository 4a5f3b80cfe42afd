"""The routing graph of an application, rendered as text, Mermaid or Graphviz dot."""

from __future__ import annotations

from lambda_complex.builder.app.model import App, Component, ComponentType

FORMATS = ("text", "mermaid", "dot")


def edges(app: App) -> list[tuple[str, str, str]]:
    """(source, target, label): fixed routes unlabelled; a routing function's possible targets
    (declared, or else every component) labelled with the function."""
    return [
        (component.name, target, component.routing.function or "")
        for component in app.components
        for target in component.routing.possible_targets(app.component_names)
    ]


def _describe(component: Component) -> str:
    kind = "queue" if component.type is ComponentType.EVENT_FROM_MESSAGE else "invoke"
    return f"{component.name} [{kind}, max {component.max_concurrency}]"


def render(app: App, fmt: str = "text") -> str:
    if fmt == "mermaid":
        return _mermaid(app)
    if fmt == "dot":
        return _dot(app)
    if fmt != "text":
        raise ValueError(f"unknown graph format {fmt!r}; choose one of {', '.join(FORMATS)}")
    lines = [f"{app.name} {app.version}"]
    for component in app.components:
        routing = component.routing
        if routing.function:
            choices = ", ".join(routing.components) or "any component"
            target = f"function {routing.function} (decides per result: {choices})"
        else:
            target = ", ".join(routing.components) or "(end)"
        lines.append(f"  {_describe(component)} -> {target}")
    return "\n".join(lines)


def _node_id(name: str) -> str:
    return "n_" + name.replace("-", "_")


def _mermaid(app: App) -> str:
    lines = ["flowchart LR"]
    for c in app.components:
        shape = ("[(", ")]") if c.type is ComponentType.EVENT_FROM_MESSAGE else ("[", "]")
        lines.append(f'  {_node_id(c.name)}{shape[0]}"{_describe(c)}"{shape[1]}')
    for source, target, label in edges(app):
        arrow = f"-. {label} .->" if label else "-->"
        lines.append(f"  {_node_id(source)} {arrow} {_node_id(target)}")
    return "\n".join(lines)


def _dot(app: App) -> str:
    lines = [f'digraph "{app.name}" {{', "  rankdir=LR;"]
    for c in app.components:
        shape = "cylinder" if c.type is ComponentType.EVENT_FROM_MESSAGE else "box"
        lines.append(f'  "{c.name}" [shape={shape}, label="{_describe(c)}"];')
    for source, target, label in edges(app):
        attrs = f' [style=dashed, label="{label}"]' if label else ""
        lines.append(f'  "{source}" -> "{target}"{attrs};')
    lines.append("}")
    return "\n".join(lines)
