"""The images the function templates pin: a URI by digest per component, and the one image of the
coordinator and invoker. Where they come from is the deploy's business (the build manifest,
`deploy/images.py`) or the offline render's (placeholders)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Images:
    """Image URI (by digest) of every component, and of the coordinator/invoker image."""

    components: dict[str, str]
    coordinator: str

    def for_component(self, name: str) -> str:
        return self.components[name]
