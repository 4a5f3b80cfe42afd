"""What to do for each image, as plain data: build, push or skip, and why. Pure: it takes the
content hashes (computed by `context`) and what was observed in the engine and the registry, and
decides; nothing here touches Docker, a registry or the file system.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

TAG_LENGTH = 32  # hex characters of the content hash: 128 bits, short enough to read


class Action(StrEnum):
    BUILD = "build"  # build (then push, with --push)
    PUSH = "push"  # already built locally under its content tag: push only
    SKIP = "skip"  # already where it needs to be


# The inputs of an image, in the order reasons list them. Each is a hash (or a short string).
INPUT_NAMES = ("base", "runtime", "dependencies", "dockerfile", "code", "config", "platform",
               "build")


def content_hash(inputs: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(inputs):
        h.update(f"{name}={inputs[name]}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class ImageSpec:
    """One image to produce: a component's, or the coordinator's (name `coordinator`)."""

    name: str
    local_repository: str  # name in the local engine, e.g. lambda-complex/sitegen/render
    repository: str | None  # in the registry (None: not known without pushing, e.g. ECR)
    platform: str  # linux/amd64 | linux/arm64
    inputs: Mapping[str, str]
    dependency_set: str | None = None  # shared dependency stage key (components only)

    @property
    def content_hash(self) -> str:
        return content_hash(self.inputs)

    @property
    def tag(self) -> str:
        return self.content_hash[:TAG_LENGTH]


@dataclass(frozen=True)
class Facts:
    """What was observed for one image's content tag."""

    registry_digest: str | None = None  # the tag exists in the registry with this digest
    local_image_id: str | None = None  # the tag exists in the local engine


@dataclass(frozen=True)
class PlannedImage:
    spec: ImageSpec
    action: Action
    reason: str
    # The digest to record unless this run pushes the image (`known_digest`).
    digest: str | None = None
    local_image_id: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "action": self.action.value,
            "reason": self.reason,
            "repository": self.spec.repository or self.spec.local_repository,
            "tag": self.spec.tag,
            "platform": self.spec.platform,
            "dependency_set": self.spec.dependency_set,
        }


@dataclass(frozen=True)
class Plan:
    images: tuple[PlannedImage, ...]
    push: bool
    dependency_sets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def changes_nothing(self) -> bool:
        return all(p.action is Action.SKIP for p in self.images)

    def to_dict(self) -> dict[str, Any]:
        return {
            "push": self.push,
            "images": [p.to_dict() for p in self.images],
            "dependency_sets": {k: list(v) for k, v in self.dependency_sets.items()},
        }


def changed_inputs(current: Mapping[str, str], previous: Mapping[str, Any] | None) -> list[str]:
    """Names of the inputs that differ from the previous build's, in a stable order."""
    if not previous:
        return []
    names = [n for n in INPUT_NAMES if n in current or n in previous]
    names += sorted((set(current) | set(previous)) - set(INPUT_NAMES))
    return [n for n in names if current.get(n) != previous.get(n)]


def _why_build(spec: ImageSpec, previous: Mapping[str, Any] | None, push: bool) -> str:
    if previous is None:
        return "new image (no previous build recorded)"
    changed = changed_inputs(spec.inputs, previous.get("inputs"))
    if changed:
        return "changed: " + ", ".join(changed)
    where = "in the registry or locally" if push else "locally"
    return f"inputs unchanged but the image is missing {where}"


def known_digest(spec: ImageSpec, facts: Facts, previous: Mapping[str, Any] | None) -> str | None:
    """The image's digest without pushing it: the registry's for its tag, else the digest the
    previous build recorded for the same content hash (that image was pushed then, and a local
    build of the same content is the same image)."""
    if facts.registry_digest is not None:
        return facts.registry_digest
    if previous is not None and previous.get("content_hash") == spec.content_hash:
        digest = previous.get("digest")
        return digest if isinstance(digest, str) and digest else None
    return None


def decide(spec: ImageSpec, facts: Facts, previous: Mapping[str, Any] | None,
           push: bool) -> PlannedImage:
    if push:
        if facts.registry_digest is not None:
            return PlannedImage(spec, Action.SKIP, f"tag {spec.tag} is already in the registry",
                                facts.registry_digest, facts.local_image_id)
        if facts.local_image_id is not None:
            return PlannedImage(spec, Action.PUSH, "built locally, not yet in the registry",
                                None, facts.local_image_id)
        return PlannedImage(spec, Action.BUILD, _why_build(spec, previous, push))
    digest = known_digest(spec, facts, previous)
    if facts.local_image_id is not None:
        return PlannedImage(spec, Action.SKIP, f"already built locally as {spec.tag}",
                            digest, facts.local_image_id)
    return PlannedImage(spec, Action.BUILD, _why_build(spec, previous, push), digest)


def make_plan(specs: list[ImageSpec], facts: Mapping[str, Facts],
              previous: Mapping[str, Mapping[str, Any]], push: bool) -> Plan:
    images = tuple(decide(s, facts.get(s.name, Facts()), previous.get(s.name), push)
                   for s in specs)
    sets: dict[str, list[str]] = {}
    for s in specs:
        if s.dependency_set is not None:
            sets.setdefault(s.dependency_set, []).append(s.name)
    return Plan(images, push, {k: tuple(v) for k, v in sets.items()})
