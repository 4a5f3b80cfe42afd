"""Benchmark of the inner loop, each figure against a baseline measured in the same run. Needs a
Docker engine and the stand-in base (scripts/docker-up).

    .venv/bin/python bench/devloop.py [--rounds 3] [--skip-cold-build] [--parts abc]

(a) `lcbuild local invoke toc --mode container` of a warm image (the real command: process start,
    imports, container start, the invocation, removal) against the floor: `docker run` of the
    same image with the same environment, plus one Runtime API invocation served by this script,
    plus removal. Target: ratio <= 2. The tool runs as an installed one does, from bytecode
    (pip compiles it on install; an editable install writes it on first run): cached under this
    run's temporary folder, after one untimed warm-up of each side. The second line is the same
    with PYTHONDONTWRITEBYTECODE, under which an editable install compiles the tool's own
    modules at every start (a figure for comparison; the target is the first line's).
(b) `lcbuild local run --mode container --send ...`: seconds from the command's start to the first
    handled message, images built, after one untimed run (on a new machine the first sets up
    the emulator's environment, once; it also writes the bytecode that (a)'s runs use, for
    the tool and every process it starts). Target: <= 5 s.
(c) a cold build of the example's images (`lcbuild images`) against SAM's pattern (per function:
    `COPY requirements.txt`, `RUN pip install -r requirements.txt -t ${LAMBDA_TASK_ROOT}`, `COPY`
    the code), each from a fresh child of the same base, scheduled as SAM CLI schedules it:
    `sam build` builds one function at a time, `sam build --parallel` in a ThreadPoolExecutor
    of Python's default size, min(32, CPUs + 4) (samcli/lib/utils/async_utils.py; SAM CLI
    1.9.0's changelog: "Normally, SAM CLI builds each function sequentially"). Target: ratio
    <= 1.0 against the faster of the two. SAM CLI has no setting for any other number, so the
    pattern built with lcbuild's parallelism is a stricter figure, printed beside it, for the
    command and for the same build through the Python API in this process: the SAM pattern
    runs here with no command start of its own. (No-op and one-line-edit ratios are
    bench/images.py's.)
Medians of --rounds runs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lambda_complex.builder.app import load as app_load  # noqa: E402
from lambda_complex.builder.images import context, manifest, pipeline  # noqa: E402
from lambda_complex.builder.local.lambda_service import functions  # noqa: E402
from lambda_complex.builder.local.lambda_service.runtime_api import (  # noqa: E402
    Invocation,
    RuntimeApi,
)
from lambda_complex.builder.local.run import invoke_once  # noqa: E402
from tests.images.conftest import HOST_CA_BUNDLE, copy_app  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from images import base_image  # noqa: E402

LCBUILD = str(ROOT / ".venv" / "bin" / "lcbuild")
TOC_INPUT = {"site": "Bench", "pages": [{"slug": "a", "title": "A"}, {"slug": "b", "title": "B"}]}
FIRST_HANDLED = re.compile(r"\bdone [1-9]")
STARTED = re.compile(r"\] started in ")


def fresh_child(client: Any, base: str) -> str:
    """A new image ID over `base`: nothing built on it before, so no build cache applies."""
    tag = f"lambda-complex/bench-base:{uuid.uuid4().hex[:12]}"
    dockerfile = f"FROM {base}\nLABEL bench.fresh={uuid.uuid4().hex}\n".encode()
    client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True)
    return tag


def lcbuild(*args: str, cwd: Path, env: dict[str, str | None] | None = None
            ) -> tuple[float, str]:
    """Wall time and output of `lcbuild ARGS`; `env` adds to this environment (None: unset)."""
    environment = {key: value for key, value in {**os.environ, **(env or {})}.items()
                   if value is not None}
    started = time.monotonic()
    done = subprocess.run([LCBUILD, *args], cwd=cwd, capture_output=True, text=True,
                          env=environment)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"lcbuild {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def build_images(app_file: Path, base: str, env: dict[str, str | None] | None = None) -> float:
    args = ["images", "--app", str(app_file), "--base-image", base]
    if HOST_CA_BUNDLE.is_file():
        args += ["--ca-cert", str(HOST_CA_BUNDLE)]
    return lcbuild(*args, cwd=app_file.parent, env=env)[0]


def build_in_process(app_file: Path, base: str) -> float:
    """The same build through the Python API, in this process, as the SAM pattern runs: the
    build itself, without the command's start (Python, imports)."""
    options = pipeline.Options(base_image=base, ca_certs=(
        (HOST_CA_BUNDLE,) if HOST_CA_BUNDLE.is_file() else ()))
    started = time.monotonic()
    result = pipeline.build_images(app_load.load(app_file), options)
    elapsed = time.monotonic() - started
    if not result.ok:
        raise SystemExit(f"in-process build failed: {[i.error for i in result.images]}")
    return elapsed


# (a) ---------------------------------------------------------------------------------------

def floor_invoke(client: Any, app_file: Path, component: str, event: Any) -> float:
    """`docker run` of the component's image with what `lcbuild local invoke` gives it (the same
    environment and event), one invocation, then removal: what no tool can beat."""
    app = app_load.load(app_file)
    images = functions.local_images(manifest.read(manifest.path_for(app.root)))
    fn = invoke_once.function_for(app, component, images)
    api = RuntimeApi()  # the Runtime API server alone: no service, no pool
    invocation = Invocation(request_id=str(uuid.uuid4()),
                            payload=json.dumps(invoke_once.local_event(event)).encode(),
                            function_arn=f"arn:aws:lambda:{fn.region}:{fn.account_id}:function:"
                                         f"{fn.name}", timeout=fn.timeout, trace_id="Root=1-0-0")
    environment = {**fn.environment, **invoke_once.NO_AWS_ENV,
                   "AWS_LAMBDA_RUNTIME_API": api.address, "AWS_LAMBDA_FUNCTION_NAME": fn.name,
                   "AWS_REGION": fn.region, "_HANDLER": fn.handler}
    started = time.monotonic()
    api.submit(invocation)
    container = client.containers.run(images[component], command=[fn.handler], detach=True,
                                      network_mode="host", environment=environment)
    try:
        if not invocation.done.wait(60):
            raise SystemExit(f"floor: no answer from {component}'s container")
    finally:
        container.remove(force=True)
    elapsed = time.monotonic() - started
    api.close()
    answer = json.loads(invocation.result or b"null")
    if not isinstance(answer, dict) or "errorType" in answer:
        raise SystemExit(f"floor: {component} answered {answer!r}")
    return elapsed


def bytecode_env(cache: Path | None) -> dict[str, str | None]:
    """The tool's bytecode written to and read from `cache`; None: never written (each start
    compiles the modules that have none)."""
    if cache is None:
        return {"PYTHONDONTWRITEBYTECODE": "1"}
    return {"PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": str(cache)}


def local_invoke(app_file: Path, component: str, event: Any,
                 env: dict[str, str | None] | None = None) -> float:
    return lcbuild("local", "invoke", component, "--mode", "container", "--event",
                   json.dumps(event), "--app", str(app_file), cwd=app_file.parent, env=env)[0]


# (b) ---------------------------------------------------------------------------------------

def first_handled(app_file: Path, component: str, event: Any,
                  env: dict[str, str | None] | None = None) -> tuple[float, str]:
    """Seconds from the start of `lcbuild local run` to its first line showing a handled
    message (the plain progress lines: not a terminal), and the run's own account of its start
    (`--timings`: when the command was ready, and its phases). `env` adds to this environment
    (None: unset), for the command and the processes it starts."""
    command = [LCBUILD, "local", "run", "--mode", "container", "--app", str(app_file),
               "--send", f"{component}={json.dumps(event)}", "--until-idle", "--timeout", "120",
               "--timings"]
    started = time.monotonic()
    environment = {key: value for key, value in {**os.environ, **(env or {})}.items()
                   if value is not None}
    process = subprocess.Popen(command, cwd=app_file.parent, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=environment)
    seen: float | None = None
    output: list[str] = []
    account: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        output.append(line)
        if seen is None and STARTED.search(line):  # the testbed's clock starts after imports
            account.append(f"ready {time.monotonic() - started:.2f} s after the command started")
        if "phases: " in line:
            account.append(line.split("phases: ", 1)[1].strip())
        if seen is None and FIRST_HANDLED.search(line):
            seen = time.monotonic() - started
    if process.wait() != 0 or seen is None:
        raise SystemExit("local run: no handled message:\n" + "".join(output[-40:]))
    return seen, "; ".join(account)


# (c) ---------------------------------------------------------------------------------------

def sam_pattern(client: Any, app_file: Path, base: str, jobs: int) -> float:
    """SAM's Dockerfile per function, built from `base` with `jobs` builds at once."""
    app = app_load.load(app_file)

    def build(component: Any) -> None:
        folder = Path(component.lambda_.path)
        entries = list(context.collect(folder))
        lines = [f"FROM {base}"]
        if HOST_CA_BUNDLE.is_file():  # the proxy CA, needed by any build here
            entries.append(context.Entry("ca.pem", HOST_CA_BUNDLE.read_bytes()))
            lines += ["COPY ca.pem /tmp/ca.pem", "ENV PIP_CERT=/tmp/ca.pem"]
        if not (folder / "requirements.txt").is_file():
            entries.append(context.Entry("requirements.txt", b""))
        lines += ["COPY requirements.txt .",
                  "RUN pip install -r requirements.txt -t ${LAMBDA_TASK_ROOT}",
                  "COPY . ${LAMBDA_TASK_ROOT}",
                  f'CMD ["{component.lambda_.handler}"]']
        entries.append(context.Entry("Dockerfile", ("\n".join(lines) + "\n").encode()))
        for chunk in client.api.build(fileobj=io.BytesIO(context.tar(entries)),
                                      custom_context=True, network_mode="host", forcerm=True,
                                      tag=f"lambda-complex/bench-sam/{component.name}:latest",
                                      decode=True):
            if "error" in chunk:
                raise SystemExit(f"SAM-pattern build of {component.name} failed: "
                                 f"{chunk['error']}")

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(build, app.components))
    return time.monotonic() - started


def lcbuild_jobs() -> int:
    """`lcbuild images`' default parallelism (`--jobs` unset)."""
    return pipeline.Options().jobs or pipeline.default_jobs()


def sam_jobs() -> int:
    """`sam build --parallel`'s: a ThreadPoolExecutor of the default size."""
    return min(32, (os.cpu_count() or 1) + 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-cold-build", action="store_true", help="the same as --parts ab")
    parser.add_argument("--parts", default="abc", help="which parts to run (default: abc)")
    args = parser.parse_args()
    parts = args.parts.replace("c", "") if args.skip_cold_build else args.parts
    client = docker.from_env()
    base = base_image()
    with tempfile.TemporaryDirectory(prefix="lc-bench-devloop-") as tmp:
        app_file = copy_app(Path(tmp) / "app")
        build_images(app_file, base)  # warm images for (a) and (b); not timed

        # The tool runs from bytecode, as an installed one does (pip compiles it on install),
        # whatever this shell's PYTHONDONTWRITEBYTECODE: cached under this run's folder, by the
        # warm-ups; every process the tool starts (sceptre, the emulator) inherits it.
        cached = bytecode_env(Path(tmp) / "pycache")
        if "a" in parts:
            floor_invoke(client, app_file, "toc", TOC_INPUT)  # warm-ups, not timed
            local_invoke(app_file, "toc", TOC_INPUT, cached)
            floor, ours, compiled = [], [], []
            for _ in range(args.rounds):  # alternating, so that load from elsewhere hits all
                floor.append(floor_invoke(client, app_file, "toc", TOC_INPUT))
                ours.append(local_invoke(app_file, "toc", TOC_INPUT, cached))
                compiled.append(local_invoke(app_file, "toc", TOC_INPUT, bytecode_env(None)))
            f, o, c = (statistics.median(floor), statistics.median(ours),
                       statistics.median(compiled))
            print(f"(a) local invoke (warm image): {o:.2f} s; floor (docker run + one invoke + "
                  f"removal): {f:.2f} s; ratio {o / f:.2f} (target <= 2)")
            print(f"    with PYTHONDONTWRITEBYTECODE (the tool's modules compiled at each "
                  f"start): {c:.2f} s; ratio {c / f:.2f}")

        if "b" in parts:
            # Untimed: a new machine's first run sets up the emulator's environment, once.
            first_handled(app_file, "toc", TOC_INPUT, cached)
            runs = [first_handled(app_file, "toc", TOC_INPUT, cached) for _ in range(args.rounds)]
            first = [seconds for seconds, _ in runs]
            print(f"(b) local run, start to first handled message: "
                  f"{statistics.median(first):.2f} s "
                  f"(runs: {', '.join(f'{s:.1f}' for s in first)}; target <= 5 s)")
            print(f"    the last run's start: {runs[-1][1]}")

        if "c" in parts:
            ours_cold, in_process, sam_same, sam_one, sam_own = [], [], [], [], []
            for _ in range(args.rounds):
                ours_cold.append(build_images(app_file, fresh_child(client, base), cached))
                sam_same.append(sam_pattern(client, app_file, fresh_child(client, base),
                                            lcbuild_jobs()))
                in_process.append(build_in_process(app_file, fresh_child(client, base)))
                sam_own.append(sam_pattern(client, app_file, fresh_child(client, base),
                                           sam_jobs()))
                sam_one.append(sam_pattern(client, app_file, fresh_child(client, base), 1))
            oc, ip, sc, s1, so = (statistics.median(ours_cold), statistics.median(in_process),
                                  statistics.median(sam_same), statistics.median(sam_one),
                                  statistics.median(sam_own))
            faster = min(s1, so)
            print(f"(c) cold build of the example: lcbuild {oc:.1f} s ({lcbuild_jobs()} at once, "
                  f"its default); SAM's pattern as SAM CLI runs it: `sam build` (one at a time) "
                  f"{s1:.1f} s, `sam build --parallel` ({sam_jobs()} at once) {so:.1f} s; ratio "
                  f"to the faster {oc / faster:.2f} (target <= 1.0)")
            print(f"    stricter: SAM's pattern with lcbuild's parallelism ({lcbuild_jobs()} at "
                  f"once) {sc:.1f} s; ratio {oc / sc:.2f}; the same build in this process (the "
                  f"API, no command start, as the SAM pattern runs) {ip:.1f} s, ratio "
                  f"{ip / sc:.2f}")
        shutil.rmtree(Path(tmp) / "app" / ".lcbuild", ignore_errors=True)


if __name__ == "__main__":
    main()
