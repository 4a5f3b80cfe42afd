"""The embedded testbed behind `lcbuild local run`: the emulator, the application's stack group
deployed to it with the real `sceptre` CLI, the local Lambda service and the schedules; sending
input, waiting until idle, the report. `Testbed` stops everything it started, in reverse order,
whatever happens (use it as a context manager).

Deploying locally: the project's own stack group (`config/`; where a project has none, the one
`lcbuild init` writes, generated under `.lcbuild/local/deploy/`), as in production. The stacks
resolve images with `!lc_image` from a build manifest; locally they get a placeholder manifest
(`LCBUILD_MANIFEST`: images pinned by a zero digest, which moto keeps but never runs) because the
Lambda service runs the local images or the source folders itself.

IAM is enforced (unless `iam=False`, `--no-iam`): sceptre and the testbed act as an admin user
made before enforcement starts; every function runs with its own execution role's credentials
(see `identities`), so a call its role does not allow fails as it would on AWS.

Local convenience: S3 buckets named by the application's role statements (`arn:aws:s3:::NAME/...`)
are created in the emulator when the stacks do not create them.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import boto3

from lambda_complex.builder import scaffold
from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.app.model import App, ComponentType
from lambda_complex.builder.deploy import images
from lambda_complex.builder.errors import UserError
from lambda_complex.builder.images import manifest
from lambda_complex.builder.local import emulator as emulator_mod
from lambda_complex.builder.local import (
    functions,
    identities,
    lambda_service,
    report,
    schedules,
    sqs_tap,
)
from lambda_complex.builder.sceptre import project
from lambda_complex.runtime import envelope, names

Mode = Literal["process", "container"]
LOCAL_DIR = Path(".lcbuild") / "local"
ENDPOINT_FILE = "endpoints.json"  # in .lcbuild/local while a run is up (see endpoint_path)
_PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
_QUEUE_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


class DeployError(RuntimeError):
    pass


class WorkerStartError(UserError):
    """A function's instances cannot start (init error): the run cannot make progress."""


def local_dir(app: App) -> Path:
    return app.root / LOCAL_DIR


def endpoint_path(root: Path) -> Path:
    """Where a running `local run` publishes its endpoints (`lcbuild status --local` reads it):
    `{"endpoint": emulator, "sqs": the SQS tap, "lambda": the Lambda service, "credentials": the
    deployer's key variables}`, so that commands run beside it are counted in its report, invoke
    its functions and pass its IAM checks."""
    return root / LOCAL_DIR / ENDPOINT_FILE


def write_placeholder_manifest(app: App, path: Path) -> Path:
    """A build manifest (the one format) naming placeholder images pinned by digest."""
    entries = {
        name: manifest.entry(repository=f"local/{app.name}/{name.lower()}", tag="local",
                             digest=_PLACEHOLDER_DIGEST, image_id=None, content_hash="",
                             platform="", inputs={})
        for name in (*app.component_names, names.COORDINATOR)
    }
    manifest.write(path, app.name, entries)
    return path


def sceptre_project(app: App, work_dir: Path) -> Path:
    """The project's own Sceptre folder; for a project without `config/`, the stack group that
    `lcbuild init` writes, generated under work_dir (the definition stays where it is)."""
    if (app.root / "config").is_dir():
        return app.root
    shutil.rmtree(work_dir, ignore_errors=True)
    scaffold.write_stack_group(work_dir, app.name, app.deployment.region, app.deployment.tags)
    return work_dir


def deploy(app: App, placeholder_manifest: Path, env: dict[str, str], log_path: Path) -> None:
    """`sceptre launch -y prod` against the emulator (env); its output goes to log_path."""
    sceptre = Path(sys.executable).with_name("sceptre")
    folder = sceptre_project(app, log_path.parent / "deploy")
    command = [str(sceptre if sceptre.exists() else "sceptre"), "--dir", str(folder)]
    with open(log_path, "wb") as log:
        done = subprocess.run(
            [*command, "launch", "-y", "prod"],
            cwd=folder,
            env={**os.environ, **env, project.APP_FILE_ENV: str(app.source),
                 images.MANIFEST_ENV: str(placeholder_manifest)},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-2000:]
        raise DeployError(
            f"sceptre launch failed (exit {done.returncode}), see {log_path}:\n{tail}"
        )


def role_buckets(app: App) -> list[str]:
    """Buckets named by the role statements' resources (`arn:aws:s3:::NAME[/...]`)."""
    found: set[str] = set()
    for role in app.roles:
        for statement in role.statements:
            for resource in statement.resources:
                if resource.startswith("arn:aws:s3:::"):
                    bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
                    if bucket and "*" not in bucket:
                        found.add(bucket)
    return sorted(found)


def components_of(app: App) -> list[report.Component]:
    found = []
    for c in app.components:
        message = c.type == ComponentType.EVENT_FROM_MESSAGE
        found.append(
            report.Component(
                name=c.name,
                kind=report.MESSAGE if message else report.INVOCATION,
                function=names.function_name(app.name, c.name),
                queue=names.queue_name(app.name, c.name) if message else None,
            )
        )
    return found


class LogTail:
    """Reads the instances' JSON log lines as they grow (<log_dir>/<function>/*.log)."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.lines: list[dict[str, Any]] = []
        self._offsets: dict[Path, int] = {}

    def poll(self) -> list[dict[str, Any]]:
        for path in sorted(self.log_dir.glob("*/*.log")):
            offset = self._offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            end = data.rfind(b"\n") + 1  # only whole lines
            self._offsets[path] = offset + end
            for raw in data[:end].splitlines():
                if raw.startswith(b"{"):
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and "event" in record:
                        self.lines.append(record)
        return self.lines


def _quietly(action: Callable[[], None]) -> None:
    """Run `action` with the Lambda service's error logs muted: executions cut short by the
    stop (a coordinator generation is always running) are expected, not worth a traceback."""
    muted = (lambda_service.__name__, "lambda_complex.builder.local.pool")
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
    ) -> None:
        self.app = app_load.load(app_path)
        self.mode = mode
        self.time_scale = time_scale
        self.service_options = service_options or {}
        self.say = say
        self.iam = iam
        self.deployer: dict[str, str] = {}  # the admin identity's credential variables
        self.dir = local_dir(self.app)
        self.log_dir = self.dir / "logs"
        self.components = components_of(self.app)
        self.sent = 0
        self.emulator: emulator_mod.Emulator | None = None
        self.tap: sqs_tap.SqsTap | None = None
        self.service: lambda_service.LambdaService | None = None
        self.scheduler: schedules.Scheduler | None = None
        self.logs = LogTail(self.log_dir)
        self._queue_urls: dict[str, str] = {}

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
        self.say("starting the AWS emulator")
        self.emulator = emulator_mod.start(log_path=self.dir / "emulator.log")
        endpoint = self.emulator.endpoint_url
        self.deployer = identities.create_deployer(self.client("iam"))
        options = dict(self.service_options)
        if self.iam:
            identities.enforce(endpoint)
            options.setdefault("credentials", identities.RoleCredentials(
                endpoint, self.app.deployment.region))
            options.setdefault("authorizer", endpoint)
        else:
            self.say(f"warning: {identities.NO_IAM_WARNING}")
        self.say(f"emulator at {endpoint}; deploying the stack group (sceptre)")
        placeholders = write_placeholder_manifest(self.app, self.dir / "images.json")
        admin_env = {**self.emulator.client_env(), **self.deployer}
        deploy(self.app, placeholders, admin_env, self.dir / "sceptre.log")
        self._create_buckets()
        self.tap = sqs_tap.SqsTap(endpoint).start()
        aws_env = {**admin_env, "AWS_ENDPOINT_URL_SQS": self.tap.url}
        self.say(f"starting the Lambda service ({self.mode} mode)")
        self.service = lambda_service.start_service(
            self._functions(), self.mode, self.log_dir, aws_env, **options
        )
        endpoint_path(self.app.root).write_text(json.dumps({
            "endpoint": self.emulator.endpoint_url, "sqs": self.tap.url, "lambda": self.service.url,
            "credentials": self.deployer,
        }) + "\n")
        self.scheduler = schedules.Scheduler(
            self.client("events"),
            self.service.invoke_async,
            time_scale=self.time_scale,
            fire_at_start=True,
            refresh=2.0,
        ).start()

    def stop(self) -> None:
        """Stop what was started, newest first; every step runs even if one fails."""
        service = self.service

        def stop_service() -> None:
            if service is not None:
                _quietly(service.stop)

        steps: list[Callable[[], None] | None] = [
            self.scheduler.stop if self.scheduler else None,
            stop_service,
            self.tap.stop if self.tap else None,
            self.emulator.stop if self.emulator else None,
            lambda: endpoint_path(self.app.root).unlink(missing_ok=True),
        ]
        self.scheduler = self.service = self.tap = self.emulator = None
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

    def client(self, service: str, endpoint: str | None = None) -> Any:
        assert self.emulator is not None, "the testbed is not running"
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=endpoint or self.emulator.endpoint_url,
            region_name=self.app.deployment.region,
            aws_access_key_id=self.deployer.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=self.deployer.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )

    def _functions(self) -> list[functions.FunctionDefinition]:
        built: dict[str, str] = {}
        if self.mode == "container":
            built = functions.local_images(manifest.read(manifest.path_for(self.app.root)))
        deployed = functions.from_emulator(self.client("lambda"))
        return functions.merge(deployed, functions.from_app(self.app, images=built))

    def _create_buckets(self) -> None:
        s3 = self.client("s3")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        for bucket in role_buckets(self.app):
            if bucket not in existing:
                s3.create_bucket(
                    Bucket=bucket,
                    CreateBucketConfiguration={"LocationConstraint": self.app.deployment.region},
                )

    # Driving.
    def send(self, component: str, data: Any) -> None:
        """One input for `component`, wrapped in a fresh envelope (a queue message, or an
        `Event` invocation of an event_from_invocation component)."""
        assert self.service is not None and self.tap is not None
        c = next((c for c in self.components if c.name == component), None)
        if c is None:
            raise KeyError(f"no component {component!r} in {self.app.name}")
        body = envelope.new(data).to_json()
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
        if queue not in self._queue_urls:
            url: str = self.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"]
            self._queue_urls[queue] = url
        return self._queue_urls[queue]

    def queue_counts(self, queue: str) -> tuple[int, int]:
        """(visible, not visible + delayed) of a queue."""
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url(queue), AttributeNames=_QUEUE_ATTRIBUTES
        )["Attributes"]
        visible = int(attrs.get("ApproximateNumberOfMessages", 0))
        hidden = int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesDelayed", 0)
        )
        return visible, hidden

    def queues(self) -> dict[str, tuple[int, int]]:
        """(visible, not visible + delayed) of each message component's input queue."""
        return {c.name: self.queue_counts(c.queue) for c in self.components if c.queue}

    def depths(self) -> dict[str, report.Depth]:
        found: dict[str, report.Depth] = {}
        for c in self.components:
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
        labels = {c.function: c.name for c in self.components}
        for role in (names.COORDINATOR, names.INVOKER):
            labels[names.function_name(self.app.name, role)] = role
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

    def report(self) -> dict[str, Any]:
        assert self.tap is not None
        return report.build(
            self.components,
            self.stats(),
            self.logs.poll(),
            self.depths(),
            report.Tapped(self.tap.sent(), self.tap.deleted()),
            self.sent,
            {c.name: names.dead_letter_queue_name(self.app.name, c.name)
             for c in self.components},
        )

    def s3_objects(self) -> dict[str, list[str]]:
        """Every key of every bucket in the emulator."""
        s3 = self.client("s3")
        found: dict[str, list[str]] = {}
        for bucket in sorted(b["Name"] for b in s3.list_buckets().get("Buckets", [])):
            keys: list[str] = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys.extend(o["Key"] for o in page.get("Contents", []))
            found[bucket] = sorted(keys)
        return found
