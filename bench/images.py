"""Benchmark of `lcbuild images` on the example application, each figure against a baseline
measured in the same run. Needs a Docker engine and the stand-in base (scripts/docker-up).

    .venv/bin/python bench/images.py

(a) no-op `lcbuild images --push` when everything is already pushed (target < 2 s), and the
    cost per extra component (10 synthetic ones; target < 0.2 s each);
(b) edit one handler line, rebuild + push, against a naive per-component Dockerfile
    (`FROM base; COPY . /var/task; RUN pip install -r requirements.txt --target /var/task`)
    built with the plain Docker SDK and pushed, each the median of 3 edits: ratio target <= 0.25;
(c) size overhead of the framework over the base image for a component without dependencies
    (target < 1 MB).
"""

from __future__ import annotations

import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import docker
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lambda_complex.builder.app import load as app_load  # noqa: E402
from lambda_complex.builder.images import context  # noqa: E402
from lambda_complex.builder.images import pipeline as api  # noqa: E402
from tests.images.real_parts import HOST_CA_BUNDLE, copy_app, start_registry  # noqa: E402

LCBUILD = str(ROOT / ".venv" / "bin" / "lcbuild")
EXTRA = 10
ROUNDS = 3


def base_image() -> str:
    name = os.environ.get(api.BASE_IMAGE_ENV)
    if name:
        return name
    out = subprocess.run([str(ROOT / "scripts/docker-up")], check=True, capture_output=True,
                         text=True).stdout
    return out.strip().splitlines()[-1].split("=", 1)[1]


def lcbuild(app_file: Path, registry: str, base: str) -> float:
    """Wall time of the real command (process start, imports and all)."""
    args = [LCBUILD, "images", "--push", "--app", str(app_file), "--registry", registry,
            "--base-image", base]
    if HOST_CA_BUNDLE.is_file():
        args += ["--ca-cert", str(HOST_CA_BUNDLE)]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"lcbuild failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def add_components(app_file: Path, count: int) -> None:
    data = yaml.safe_load(app_file.read_text())
    for n in range(count):
        folder = app_file.parent / f"examples/sitegen/extra-{n}"
        shutil.copytree(app_file.parent / "examples/sitegen/toc", folder)
        data["components"].append({
            "name": f"extra-{n}", "type": "event_from_invocation", "max_concurrency": 1,
            "lambda": {"path": f"examples/sitegen/extra-{n}", "handler": "toc.handler"}})
    app_file.write_text(yaml.safe_dump(data, sort_keys=False))


def naive_build_and_push(client: Any, app_file: Path, registry: str, base: str,
                         tag: str) -> float:
    """What a hand-written pipeline does: every component, its whole folder, pip in the image."""
    app = app_load.load(app_file)
    started = time.monotonic()
    for component in app.components:
        folder = component.lambda_.path
        lines = [f"FROM {base}"]
        entries = [e for e in context.collect(folder)]
        if HOST_CA_BUNDLE.is_file():  # the proxy CA, needed by any build here
            entries.append(context.Entry("ca.pem", HOST_CA_BUNDLE.read_bytes()))
            lines.append("ENV PIP_CERT=/var/task/ca.pem")
        lines += ["COPY . /var/task",
                  "RUN pip install -r requirements.txt --target /var/task",
                  f'CMD ["{component.lambda_.handler}"]']
        entries.append(context.Entry("Dockerfile", ("\n".join(lines) + "\n").encode()))
        repository = f"{registry}/naive/{component.name}"
        for chunk in client.api.build(fileobj=io.BytesIO(context.tar(entries)),
                                      custom_context=True, tag=f"{repository}:{tag}",
                                      network_mode="host", forcerm=True, decode=True):
            if "error" in chunk:
                raise SystemExit(f"naive build failed: {chunk['error']}")
        for chunk in client.api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                raise SystemExit(f"naive push failed: {chunk['error']}")
    return time.monotonic() - started


def edit(handler: Path) -> None:
    handler.write_text(handler.read_text() + f"# edited {uuid.uuid4()}\n")


def main() -> None:
    client = docker.from_env(timeout=900)
    base = base_image()
    work = Path(tempfile.mkdtemp(prefix="lcbuild-bench-"))
    registry = start_registry(work / "registry")
    try:
        app_file = copy_app(work / "app")
        first = lcbuild(app_file, registry.address, base)
        print(f"first build + push of the example (6 images):  {first:6.2f} s")

        # (a) no-op
        noop = min(lcbuild(app_file, registry.address, base) for _ in range(3))
        add_components(app_file, EXTRA)
        lcbuild(app_file, registry.address, base)
        noop_more = min(lcbuild(app_file, registry.address, base) for _ in range(3))
        per_extra = (noop_more - noop) / EXTRA
        print(f"(a) no-op `lcbuild images --push`, example:    {noop:6.2f} s   (target < 2 s)")
        print(f"    with {EXTRA} extra components:               {noop_more:6.2f} s")
        print(f"    per extra component:                       {per_extra:6.3f} s   "
              "(target < 0.2 s)")

        # (b) one handler line, rebuild + push, against the naive pipeline; each the median of
        # ROUNDS edits (single builds vary by tens of percent on this 2-core machine)
        naive_app = copy_app(work / "naive")
        naive_build_and_push(client, naive_app, registry.address, base, "v0")
        naive_times = []
        for round_ in range(1, ROUNDS + 1):
            edit(naive_app.parent / "examples/sitegen/render/render.py")
            naive_times.append(naive_build_and_push(client, naive_app, registry.address, base,
                                                    f"v{round_}"))
        lc_app = copy_app(work / "lc")
        lcbuild(lc_app, registry.address, base)  # same content as app: all skipped
        ours_times = []
        for _ in range(ROUNDS):
            edit(lc_app.parent / "examples/sitegen/render/render.py")
            ours_times.append(lcbuild(lc_app, registry.address, base))
        naive, ours = statistics.median(naive_times), statistics.median(ours_times)
        print(f"    runs (s): ours {', '.join(f'{t:.2f}' for t in ours_times)}; "
              f"naive {', '.join(f'{t:.2f}' for t in naive_times)}")
        print(f"(b) edit one handler line, rebuild + push (median of {ROUNDS}): {ours:5.2f} s   "
              f"naive: {naive:6.2f} s   ratio {ours / naive:.3f}   (target <= 0.25)")

        # (c) framework overhead for a component without dependencies
        entries = {e["name"]: e for e in api.build_images(
            app_load.load(lc_app), api.Options(push=False, registry=registry.address,
                                               base_image=base)).to_dict()["images"]}
        toc_size = client.images.get(entries["toc"]["image_id"]).attrs["Size"]
        base_size = client.images.get(base).attrs["Size"]
        code = sum(len(e.data) for e in context.code_files(
            lc_app.parent / "examples/sitegen/toc"))
        overhead = toc_size - base_size - code
        print(f"(c) size: toc image {toc_size} B, base {base_size} B, toc code {code} B")
        print(f"    framework overhead:                        {overhead:8d} B "
              f"({overhead / 1e6:.3f} MB)   (target < 1 MB)")
    finally:
        registry.process.terminate()
        registry.process.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
