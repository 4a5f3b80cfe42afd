"""The application on this machine: `lcbuild local run` (the embedded testbed, as a context
manager), `lcbuild local deploy` (a changed definition applied to that running run: both halves
of their hang-up signal and outcome file are here), and `lcbuild local invoke` (one component
once, no deploy)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lambda_complex.builder.app.model import App
from lambda_complex.builder.errors import UserError

if TYPE_CHECKING:
    from lambda_complex.builder.local.run.invoke_once import Outcome
    from lambda_complex.builder.local.run.testbed import Testbed

__all__ = ["LiveView", "Mode", "default_local_mode", "invoke_once", "local_deploy",
           "redeploy_on_hangup", "run_locally"]

Mode = Literal["container", "process"]
MODES: tuple[Mode, ...] = ("container", "process")


def default_local_mode(app_root: Path) -> Mode:
    """container when the build manifest exists and a Docker engine answers, else process."""
    from lambda_complex.builder.images import manifest
    from lambda_complex.builder.local.lambda_service.engine_socket import Engine, EngineError

    if not manifest.path_for(app_root).is_file():
        return "process"
    try:
        Engine().ping()
    except EngineError:
        return "process"
    return "container"


@contextmanager
def run_locally(app_path: str | Path, mode: Mode = "process", **options: Any
                ) -> Iterator[Testbed]:
    """The testbed of `lcbuild local run`: the emulator, the stack group deployed to it, the
    local Lambda service and the schedules, started on enter and stopped on exit. `options` as
    `Testbed`'s (say, iam, timings, inputs, time_scale, service_options). A deploy that fails
    is a UserError."""
    from lambda_complex.builder.local.aws.stack_group import DeployError
    from lambda_complex.builder.local.run.testbed import Testbed

    try:
        with Testbed(Path(app_path), mode, **options) as bed:
            yield bed
    except DeployError as e:
        raise UserError(str(e)) from None


class LiveView:
    """The live table of a running testbed on a terminal (per component queued, in flight /
    limit, done, failed, dead-lettered, last error), plain lines elsewhere: `update()` between
    two ticks, `close()` at the end."""

    def __init__(self, bed: Testbed) -> None:
        from lambda_complex.builder.local.run import live_view

        self._view = live_view.RunView(bed)

    def update(self) -> None:
        self._view.update()

    def close(self) -> None:
        self._view.close()


def redeploy_on_hangup(bed: Testbed, say: Callable[[str], None]) -> Callable[[], None]:
    """SIGHUP (sent by `local_deploy`) makes the run apply the definition on disk: the returned
    function does it, between two ticks and in the calling thread, then records the outcome in
    the redeploy file `local_deploy` waits on."""
    from lambda_complex.builder.local.aws.stack_group import DeployError
    from lambda_complex.builder.local.run import files

    asked = threading.Event()
    signal.signal(signal.SIGHUP, lambda signum, frame: asked.set())
    handled = 0

    def apply() -> None:
        nonlocal handled
        if not asked.is_set():
            return
        asked.clear()
        say("redeploying the changed definition")
        error: str | None = None
        try:
            bed.redeploy()
        except (UserError, DeployError) as e:
            error = str(e)
            say(f"redeploy refused: {error}")
        handled += 1
        files.redeploy_path(bed.app.root).write_text(
            json.dumps({"handled": handled, "ok": error is None, "error": error}) + "\n")

    return apply


def local_deploy(app: App, timeout: float = 600.0) -> None:
    """Apply the definition on disk to the running `lcbuild local run` of `app` (the same stack
    group and switchover as a deploy to AWS) and wait until it did; a UserError when no run is
    there, it is gone, it refused the change or did not apply it within `timeout` seconds."""
    from lambda_complex.builder.local.run import files

    endpoints = files.read_endpoints(app)
    if endpoints.pid is None:
        raise UserError(f"{files.endpoint_path(app.root)} names no process of a running "
                        f"`lcbuild local run`: {files.START_HINT}")
    outcome = files.redeploy_path(app.root)
    before = (files.read_json(outcome) or {}).get("handled", 0)
    try:
        os.kill(endpoints.pid, signal.SIGHUP)
    except ProcessLookupError:
        raise UserError(f"the `lcbuild local run` of {app.name} is gone (pid "
                        f"{endpoints.pid}): start a new one") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = files.read_json(outcome) or {}
        if done.get("handled", 0) > before:
            if not done.get("ok"):
                raise UserError(f"redeploy failed: {done.get('error')}")
            return
        time.sleep(0.5)
    raise UserError(f"the running local run did not apply the redeploy within {timeout:.0f} s")


def invoke_once(app: App, component: str, event: Any, mode: Mode,
                send_results: bool = False) -> Outcome:
    """Run `component` once on `event`, from its built image (container) or as a worker
    (process): no deploy, no emulator, routing dry (the results are shown, not delivered).
    `send_results`: then send the routed results to their targets in the running `lcbuild
    local run` of `app` (a UserError, before anything runs, when there is none)."""
    from lambda_complex.builder.local.run import invoke_once as once

    if send_results:
        _running_run(app)

    launcher: Any
    if mode == "container":
        fn = once.function_for(app, component, {component: once.container_image(app, component)})
        launcher = _container_launcher()
    else:
        from lambda_complex.builder.local.lambda_service.workers import ProcessLauncher

        fn = once.function_for(app, component)
        launcher = ProcessLauncher()
    outcome = once.run(fn, component, event, launcher)
    if not send_results:
        return outcome
    from lambda_complex.builder.api.operations import connect

    return once.send_results(connect(app, local=True), app.name, outcome)


def _running_run(app: App) -> None:
    """A UserError unless a `lcbuild local run` of `app` is running (its endpoint file names
    a live process)."""
    from lambda_complex.builder.local.run import files

    pid = files.read_endpoints(app).pid
    try:
        if pid is None:
            raise ProcessLookupError
        os.kill(pid, 0)
    except ProcessLookupError:
        raise UserError(f"the `lcbuild local run` of {app.name} is gone (its endpoint file "
                        f"{files.endpoint_path(app.root)} names no live process): "
                        f"{files.START_HINT}") from None
    except PermissionError:
        pass  # alive, under another user


def _container_launcher() -> Any:
    from lambda_complex.builder.local.lambda_service.containers import ContainerLauncher
    from lambda_complex.builder.local.lambda_service.engine_socket import Engine, EngineError

    try:
        engine = Engine()
        engine.ping()
    except EngineError as e:
        raise UserError(f"container mode needs a running Docker engine ({e}); "
                        "use --mode process") from None
    # The process ends after this one invocation: the engine removes the container alone.
    return ContainerLauncher(engine, await_removal=False)
