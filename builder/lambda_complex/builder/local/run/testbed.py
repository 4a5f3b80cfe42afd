"""The embedded testbed behind `lcbuild local run`: the emulator, the application's stack group
deployed to it (`stack_group`), the local Lambda service and the schedules; sending input,
waiting until idle, following a redeploy, the report. `Testbed` stops everything it started, in
reverse order, whatever happens (use it as a context manager).

IAM is enforced (unless `iam=False`, `--no-iam`): sceptre and the testbed act as an admin user
made before enforcement starts; every function runs with its own execution role's credentials
(see `identities`), so a call its role does not allow fails as it would on AWS. The buckets
the role statements name are made in the emulator (`stack_group.create_role_buckets`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.cfn.common import FUNCTIONS, stack_name
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.images import manifest
from lambda_complex.builder.local.aws import emulator as emulator_mod
from lambda_complex.builder.local.aws import identities, sqs_tap, stack_group
from lambda_complex.builder.local.lambda_service import event_source_pollers, functions, schedules
from lambda_complex.builder.local.lambda_service import service as lambda_service
from lambda_complex.builder.local.run import observe, report, timeline
from lambda_complex.builder.local.run.files import LogTail, endpoint_path, local_dir
from lambda_complex.runtime import names, protocol

Mode = Literal["process", "container"]


class WorkerStartError(UserError):
    """A function's instances cannot start (init error): the run cannot make progress."""


def _quietly(action: Callable[[], None]) -> None:
    """Run `action` with the Lambda service's error logs muted: executions cut short by the
    stop (a coordinator generation is always running) are expected, not worth a traceback."""
    muted = (lambda_service.__name__, "lambda_complex.builder.local.lambda_service.pool")
    loggers = [logging.getLogger(n) for n in muted]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        action()
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class Testbed:
    """start() everything, send(), wait_idle(), report(), stop()."""

    def __init__(
        self,
        app_path: Path,
        mode: Mode = "process",
        *,
        time_scale: float = 1.0,  # the schedules' (tests: 0.05 fires a one-minute rate every 3 s)
        service_options: dict[str, Any] | None = None,
        say: Callable[[str], None] = lambda _: None,
        iam: bool = True,  # enforce IAM in the emulator; False: every call allowed (a warning)
        timings: bool = False,  # each `say` line with its time; the start's phases at the end
        # Sent once the stacks are up, before the schedules first fire: the coordinator's first
        # look at the queues finds them (a schedule that finds no work starts no chain).
        inputs: Sequence[tuple[str, Sequence[Any]]] = (),
    ) -> None:
        self.timeline = timeline.Timeline()
        self.app = app_load.load(app_path)
        self.mode = mode
        self.time_scale = time_scale
        self.service_options = service_options or {}
        self.timings, self.inputs = timings, list(inputs)
        self.say = say if not timings else (
            lambda message: say(f"[{self.timeline.elapsed():6.2f} s] {message}"))
        self.iam = iam
        self.deployer: dict[str, str] = {}  # the admin identity's credential variables
        self.dir = local_dir(self.app)
        self.log_dir = self.dir / "logs"
        self.components = report.components_of(self.app)
        self.sent = 0
        self.emulator: emulator_mod.Emulator | None = None
        self.tap: sqs_tap.SqsTap | None = None
        self.service: lambda_service.LambdaService | None = None
        self.scheduler: schedules.Scheduler | None = None
        # The SQS event source mappings' pollers (native components), as the functions' roles.
        self.event_sources: event_source_pollers.EventSources | None = None
        self.logs = LogTail(self.log_dir)
        self._queues = observe.Queues(self.client)
        self._admin_env: dict[str, str] = {}
        # Components of earlier definitions (a redeploy renamed or removed them): still reported.
        self.retired: list[report.Component] = []
        self.redeploys = 0
        self._clients = observe.Clients()

    # Start and stop.
    def start(self) -> Testbed:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        shutil.rmtree(self.log_dir, ignore_errors=True)
        self.log_dir.mkdir(parents=True)
        self.say("starting the AWS emulator and sceptre")
        credentials = self.dir / "deployer.json"
        launched = time.monotonic()
        self.emulator = emulator_mod.launch(log_path=self.dir / "emulator.log", warm_up=True)
        # sceptre imports while the emulator starts, then waits for the deployer's keys.
        placeholders = stack_group.write_placeholder_manifest(self.app, self.dir / "images.json")
        deployment = stack_group.start_deploy(self.app, placeholders, self.emulator.client_env(),
                                  self.dir / "sceptre.log", env_from=credentials)
        try:
            with self.timeline.phase(timeline.PREPARE):  # what needs no emulator, meanwhile
                defined = self._defined_functions()
            self.emulator.wait_ready()
            self.timeline.add(timeline.EMULATOR, launched, time.monotonic())
            self._deploying(deployment, credentials, defined)
        except BaseException:
            deployment.stop()
            raise
        finally:
            self.timeline.add(timeline.DEPLOY, deployment.started_at,
                              deployment.ended_at or time.monotonic())
        self._started()

    def _deploying(self, deployment: stack_group.Deployment, credentials: Path,
                   defined: list[functions.FunctionDefinition]) -> None:
        """The deployer (IAM enforced) to the waiting sceptre; the service while it deploys."""
        assert self.emulator is not None
        phase, endpoint = self.timeline.phase, self.emulator.endpoint_url
        with phase(timeline.IDENTITIES):
            self.deployer = identities.create_deployer(self.client("iam"))
            options = dict(self.service_options)
            if self.iam:
                identities.enforce(endpoint)
                options.setdefault("credentials", identities.RoleCredentials(
                    endpoint, self.app.deployment.region))
                options.setdefault("authorizer", endpoint)
        if not self.iam:
            self.say(f"warning: {identities.NO_IAM_WARNING}")
        self.say(f"emulator at {endpoint}; deploying the stack group (sceptre) while the Lambda "
                 f"service starts ({self.mode} mode)")
        self.tap = sqs_tap.SqsTap(endpoint).start()
        self._admin_env = {**self.emulator.client_env(), **self.deployer,
                           "AWS_ENDPOINT_URL_SQS": self.tap.url}
        # The service needs only the definition and endpoints; what moto keeps of the deployed
        # functions is merged in after the deploy.
        with phase(timeline.SERVICE):
            self.service = lambda_service.start_service(
                defined, self.mode, self.log_dir, self._admin_env, **options
            )
        stack_group.write_env(credentials, self._deploy_env())
        self._follow(deployment)
        deployment.wait()

    def _follow(self, deployment: stack_group.Deployment) -> None:
        """Until sceptre exits. Once the functions stack exists, its functions join the service
        and the inputs go out while sceptre deploys the coordinator: a message waits in its
        queue until dispatching resumes, an invocation runs at once (as on Lambda)."""
        service = self.service
        assert service is not None

        def early() -> None:
            with self.timeline.phase(timeline.EARLY):
                for fn in self._functions():
                    service.add_function(fn)
                self._send_inputs()
        stack_group.follow(deployment, self.client("cloudformation"),
                           stack_name(self.app, FUNCTIONS), early)

    def _started(self) -> None:
        """After the deploy: the deployed functions, buckets, event sources, schedules."""
        assert self.emulator is not None and self.service is not None and self.tap is not None
        phase = self.timeline.phase
        with phase(timeline.FUNCTIONS):
            for fn in self._functions():
                self.service.add_function(fn)
            stack_group.create_role_buckets(self.client("s3"), self.app)
            self.event_sources = event_source_pollers.EventSources(
                self.client("lambda"), self.client("sqs", self.tap.url),
                event_source_pollers.through(self.service),
                sqs_for=event_source_pollers.as_execution_role(
                    self.service, self.tap.url, self.app.deployment.region, self.deployer),
                ready=event_source_pollers.defined_in(self.service),
            ).start()
        endpoint_path(self.app.root).write_text(json.dumps({
            "endpoint": self.emulator.endpoint_url, "sqs": self.tap.url, "lambda": self.service.url,
            "pid": os.getpid(), "credentials": self.deployer}) + "\n")
        self._send_inputs()
        with phase(timeline.SCHEDULES):
            self.scheduler = schedules.Scheduler(
                self.client("events"), self.service.invoke_async, time_scale=self.time_scale,
                fire_at_start=True, refresh=2.0).start()
        self.say(f"started in {self.timeline.elapsed():.2f} s")
        if self.timings:
            self.say(f"phases: {timeline.summary(self.timeline.phases)}")

    def stop(self) -> None:
        """Stop what was started, newest first; every step runs even if one fails."""
        service = self.service

        def stop_service() -> None:
            if service is not None:
                _quietly(service.stop)

        steps: list[Callable[[], None] | None] = [
            self.scheduler.stop if self.scheduler else None,
            self.event_sources.stop if self.event_sources else None,
            stop_service,
            self.tap.stop if self.tap else None,
            self.emulator.stop if self.emulator else None,
            lambda: endpoint_path(self.app.root).unlink(missing_ok=True),
        ]
        self.scheduler = self.service = self.tap = self.emulator = None
        self.event_sources = None
        self._clients.clear()  # a restarted testbed has another emulator
        for step in steps:
            if step is not None:
                try:
                    step()
                except Exception as e:  # keep stopping the rest
                    self.say(f"while stopping: {e!r}")

    def __enter__(self) -> Testbed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str, endpoint: str | None = None) -> Any:  # as the deployer
        assert self.emulator is not None, "the testbed is not running"
        return self._clients.get(service, endpoint or self.emulator.endpoint_url,
                                 self.app.deployment.region, self.deployer)

    def _deploy_env(self) -> dict[str, str]:
        """What sceptre's hooks need beyond the emulator: the deployer's keys, and this Lambda
        service for their Lambda calls (the switchover's schedule tick is an Invoke; the rest
        passes through to the emulator)."""
        assert self.service is not None
        return {**self.deployer, "AWS_ENDPOINT_URL_LAMBDA": self.service.url}

    def _send_inputs(self) -> None:  # the inputs given at start, once
        inputs, self.inputs = self.inputs, []
        for name, items in inputs:
            self.send_many(name, items)

    def _defined_functions(self) -> list[functions.FunctionDefinition]:
        """The functions as the definition (and, in container mode, the build) says."""
        built: dict[str, str] = {}
        if self.mode == "container":
            built = functions.local_images(manifest.read(manifest.path_for(self.app.root)))
        return functions.from_app(self.app, images=built)

    def _functions(self) -> list[functions.FunctionDefinition]:
        """The deployed functions merged with the definition's (see `functions.merge`)."""
        deployed = functions.from_emulator(self.client("lambda"))
        return functions.merge(deployed, self._defined_functions())

    def redeploy(self) -> None:
        """Apply the definition as it is now on disk to the running testbed, as a deploy to AWS
        would: the same stack group through the real sceptre CLI and its switchover hooks (a
        renamed component's messages move to its new queues), then the Lambda service runs the
        new functions. Their SQS calls go through the tap, so the report still accounts for
        every message. A definition that does not load changes nothing (DefinitionError)."""
        assert self.emulator is not None and self.service is not None
        app = app_load.load(self.app.source)
        if app.name != self.app.name:
            raise UserError(f"the definition now names application '{app.name}', not "
                            f"'{self.app.name}': stop this run and start a new one")
        self.redeploys += 1
        placeholders = stack_group.write_placeholder_manifest(app, self.dir / "images.json")
        stack_group.deploy(app, placeholders, {**self._admin_env, **self._deploy_env()},
                           self.dir / f"sceptre-{self.redeploys}.log")
        self.app = app
        stack_group.create_role_buckets(self.client("s3"), self.app)
        for fn in self._functions():
            self.service.add_function(fn)
        current = report.components_of(app)
        kept = {c.name for c in current}
        self.retired = [c for c in self.reported() if c.name not in kept]
        self.components = current

    # Driving.
    def send(self, component: str, data: Any) -> None:
        """One input for `component`, wrapped in a fresh envelope (a queue message, or an
        `Event` invocation of an event_from_invocation component)."""
        assert self.service is not None and self.tap is not None
        c = next((c for c in self.components if c.name == component), None)
        if c is None:
            raise KeyError(f"no component {component!r} in {self.app.name}")
        body = protocol.new_envelope(data).to_json()
        if c.queue is not None:
            sqs = self.client("sqs", self.tap.url)  # through the tap: counted as created
            sqs.send_message(QueueUrl=self.queue_url(c.queue), MessageBody=body)
        elif self.service.invoke_async(c.function, json.loads(body)) is None:
            raise RuntimeError(f"the Lambda service refused an event for {component!r}")
        self.sent += 1

    def send_many(self, component: str, items: Sequence[Any]) -> None:
        for item in items:
            self.send(component, item)

    # Observing.
    def queue_url(self, queue: str) -> str:
        return self._queues.url(queue)

    def queue_counts(self, queue: str) -> tuple[int, int]:
        """(visible, not visible + delayed) of a queue; (0, 0) once a redeploy removed it."""
        return self._queues.counts(queue)

    def queues(self) -> dict[str, tuple[int, int]]:
        """(visible, not visible + delayed) of each message component's input queue."""
        return {c.name: self.queue_counts(c.queue) for c in self.components if c.queue}

    def depths(self) -> dict[str, report.Depth]:
        found: dict[str, report.Depth] = {}
        for c in self.reported():
            queued = sum(self.queue_counts(c.queue)) if c.queue else 0
            dlq = sum(self.queue_counts(names.dead_letter_queue_name(self.app.name, c.name)))
            found[c.name] = report.Depth(queued, dlq)
        return found

    def stats(self) -> dict[str, dict[str, int]]:
        assert self.service is not None
        return self.service.stats()

    def is_idle(self) -> bool:
        """Every component queue empty (nothing visible, in flight or delayed) and no component
        function running or holding an event. The coordinator chains run on regardless."""
        assert self.service is not None
        for c in self.components:
            pool = self.service.pool(c.function)
            if pool is not None and not pool.is_idle():
                return False
            if c.queue and sum(self.queue_counts(c.queue)) > 0:
                return False
        return True

    def check_started(self) -> None:
        """Raise WorkerStartError if a component (or the coordinator, or the invoker) cannot
        start: its handler module does not import, its handler function is missing, or its
        worker cannot load the runtime interface client."""
        assert self.service is not None
        labels = {c.function: c.name for c in self.components} | {
            names.function_name(self.app.name, r): r for r in (names.COORDINATOR, names.INVOKER)}
        for function, label in labels.items():
            pool = self.service.pool(function)
            failure = pool.start_failure if pool is not None else None
            if failure is not None:
                raise WorkerStartError(f"{label} cannot start: {failure}")

    def wait_idle(
        self, timeout: float, interval: float = 0.25, on_tick: Callable[[], None] | None = None
    ) -> bool:
        """True once idle twice in a row (a result in transit between two components is never
        both unsent and unqueued for that long); False after `timeout` seconds. Raises
        WorkerStartError as soon as a function is found unable to start."""
        deadline = time.monotonic() + timeout
        streak = 0
        while time.monotonic() < deadline:
            self.check_started()
            if on_tick is not None:
                on_tick()
            streak = streak + 1 if self.is_idle() else 0
            if streak >= 2:
                return True
            time.sleep(interval)
        return False

    def reported(self) -> list[report.Component]:
        """The components of the definition, then those an earlier definition had."""
        return [*self.components, *self.retired]

    def report(self) -> dict[str, Any]:
        assert self.tap is not None
        dlqs = {c.name: names.dead_letter_queue_name(self.app.name, c.name)
                for c in self.reported()}
        built = report.build(self.reported(), self.stats(), self.logs.poll(), self.depths(),
                             report.Tapped(self.tap.sent(), self.tap.deleted()), self.sent, dlqs)
        mapped = self.event_sources.by_function() if self.event_sources else {}
        if mapped:  # native components: what their event source mappings' pollers did
            built["event_source_mappings"] = mapped
        return built

    def s3_objects(self) -> dict[str, list[str]]:
        """Every key of every bucket in the emulator."""
        return observe.s3_objects(self.client("s3"))
