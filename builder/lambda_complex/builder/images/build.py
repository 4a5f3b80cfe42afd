"""The Docker edge: connect, inspect, build from an assembled tar context, tag, push.

Builds use the classic builder through the SDK (no BuildKit, so no provenance attestation that
Lambda would reject), host networking (engines here run without a bridge), `forcerm` (no
intermediate containers left behind) and never `pull` (the base image is pinned and local).
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker

from lambda_complex.builder.errors import UserError

CLIENT_TIMEOUT = 1800  # seconds: one build step (a pip install from source) may be long
LOG_TAIL_LINES = 25
_STEP = re.compile(r"^Step (\d+)/(\d+) : ")
# Docker reports architectures in Go's names.
ARCHITECTURES = {"linux/amd64": "amd64", "linux/arm64": "arm64"}

StepCallback = Callable[[int, int, str], None]
BytesCallback = Callable[[int, int], None]


class BuildError(Exception):
    """A build or push failed; `tail` holds the relevant end of its log."""

    def __init__(self, message: str, tail: str = "") -> None:
        super().__init__(message)
        self.tail = tail


def docker_unreachable_message(error: Exception) -> str:
    return ("Docker is not reachable: start the engine (as root: `scripts/docker-up`, or "
            "`systemctl start docker`) or point DOCKER_HOST at a running one "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''})")


def connect() -> Any:
    """A client from the environment (DOCKER_HOST etc.), checked with a ping."""
    try:
        client = docker.from_env(timeout=CLIENT_TIMEOUT)
        client.ping()
    except docker.errors.DockerException as e:
        raise UserError(docker_unreachable_message(e)) from e
    except OSError as e:
        raise UserError(docker_unreachable_message(e)) from e
    return client


@dataclass(frozen=True)
class BuildOutput:
    image_id: str
    steps: int
    cached_steps: int
    log: str


class Engine:
    """Thread-safe use of one engine: each thread gets its own low-level client (an HTTP session
    is not meant to be shared between threads)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._local = threading.local()

    @property
    def api(self) -> Any:
        api = getattr(self._local, "api", None)
        if api is None:
            if threading.current_thread() is threading.main_thread():
                api = self._client.api
            else:
                # Same engine and TLS settings as the environment gave; no second negotiation.
                api = docker.from_env(version=self._client.api.api_version,
                                      timeout=CLIENT_TIMEOUT).api
            self._local.api = api
        return api

    def inspect(self, ref: str) -> dict[str, Any] | None:
        try:
            return dict(self.api.inspect_image(ref))
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.NotFound:
            return None

    def image_id(self, ref: str) -> str | None:
        info = self.inspect(ref)
        return None if info is None else str(info["Id"])

    def paths_present(self, image: str, paths: tuple[str, ...]) -> frozenset[str] | None:
        """Which of `paths` exist in `image`'s file system, read from a container that is created
        and removed but never started (nothing of the image runs). None when the engine cannot
        tell (an image or a path it fails to open): this only decides whether a step may be
        left out, which must never fail a build nor leave out a step that is needed."""
        try:
            container = str(self.api.create_container(image, command=["true"],
                                                      network_disabled=True)["Id"])
        except docker.errors.DockerException:
            return None
        present = set()
        try:
            for path in paths:
                try:
                    stream, _ = self.api.get_archive(container, path)
                except docker.errors.NotFound:
                    continue
                except docker.errors.DockerException:
                    return None
                for _ in stream:  # read to the end, so that the connection is free again
                    pass
                present.add(path)
        finally:
            self.api.remove_container(container, force=True)
        return frozenset(present)

    def build(self, context_tar: bytes, tag: str, platform: str,
              labels: dict[str, str] | None = None, buildargs: dict[str, str] | None = None,
              on_step: StepCallback | None = None) -> BuildOutput:
        lines: deque[str] = deque(maxlen=400)
        steps = cached = 0
        error: str | None = None
        pending = ""
        try:
            stream = self.api.build(
                fileobj=io.BytesIO(context_tar), custom_context=True, encoding=None,
                tag=tag, rm=True, forcerm=True, pull=False, network_mode="host",
                platform=platform, labels=labels or {}, buildargs=buildargs or {},
                decode=True, dockerfile="Dockerfile",
            )
            for chunk in stream:
                if "error" in chunk:
                    error = str(chunk["error"]).strip()
                    continue
                text = pending + str(chunk.get("stream", ""))
                *complete, pending = text.split("\n")
                for line in complete:
                    lines.append(line)
                    if line.strip() == "---> Using cache":
                        cached += 1
                    match = _STEP.match(line)
                    if match:
                        steps = int(match.group(2))
                        if on_step:
                            on_step(int(match.group(1)), steps, line[match.end():])
        except docker.errors.APIError as e:
            error = str(e.explanation or e)
        if pending:
            lines.append(pending)
        log = "\n".join(lines)
        if error is not None:
            raise BuildError(error, _tail(lines, error))
        image_id = self.image_id(tag)
        if image_id is None:
            raise BuildError(f"the build reported success but {tag} does not exist", _tail(lines))
        return BuildOutput(image_id, steps, cached, log)

    def architecture(self, ref: str) -> str:
        info = self.inspect(ref)
        return "" if info is None else str(info.get("Architecture", ""))

    def layers(self, ref: str) -> tuple[str, ...]:
        """The digests of `ref`'s file system layers, bottom first (none if it is not here)."""
        info = self.inspect(ref) or {}
        return tuple(str(layer) for layer in (info.get("RootFS") or {}).get("Layers") or ())

    def remove_image(self, ref: str) -> None:
        """Untag `ref` (and delete its layers that nothing else uses). For build stages only:
        one left behind (gone already, or the engine refused) costs disk, never a build."""
        with contextlib.suppress(docker.errors.DockerException):
            self.api.remove_image(ref)

    def tag(self, image: str, repository: str, tag: str) -> None:
        self.api.tag(image, repository, tag, force=True)

    def push(self, repository: str, tag: str, auth_config: dict[str, str] | None,
             on_bytes: BytesCallback | None = None) -> str:
        """Push and return the pushed manifest's digest (from the engine's report)."""
        current: dict[str, int] = {}
        total: dict[str, int] = {}
        lines: deque[str] = deque(maxlen=100)
        digest: str | None = None
        try:
            stream = self.api.push(repository, tag=tag, stream=True, decode=True,
                                   auth_config=auth_config)
            for chunk in stream:
                if "error" in chunk:
                    raise BuildError(f"push of {repository}:{tag} failed: {chunk['error']}",
                                     _tail(lines))
                layer = chunk.get("id")
                status = str(chunk.get("status", ""))
                detail = chunk.get("progressDetail") or {}
                lines.append(f"{layer or ''} {status}".strip())
                if layer and "current" in detail:
                    current[layer] = int(detail["current"])
                    total[layer] = max(total.get(layer, 0), int(detail.get("total") or 0))
                elif layer and status in ("Pushed", "Layer already exists") and layer in total:
                    current[layer] = total[layer]
                aux = chunk.get("aux") or {}
                if "Digest" in aux:
                    digest = str(aux["Digest"])
                if on_bytes and layer:
                    on_bytes(sum(current.values()), sum(total.values()))
        except docker.errors.APIError as e:
            raise BuildError(f"push of {repository}:{tag} failed: {e.explanation or e}",
                             _tail(lines)) from e
        if digest is None:
            raise BuildError(f"push of {repository}:{tag} reported no digest", _tail(lines))
        return digest


def _tail(lines: deque[str] | list[str], error: str | None = None) -> str:
    kept = [line for line in lines if line.strip()][-LOG_TAIL_LINES:]
    if error and (not kept or error not in kept[-1]):
        kept.append(error)
    return "\n".join(kept)
