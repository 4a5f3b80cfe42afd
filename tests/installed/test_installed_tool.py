"""The tool as a user installs it: wheels built from this checkout, installed with the README's
command (pipx, which puts `lcbuild` and `sceptre` on PATH), then used on a new application made
by `lcbuild init`, from a folder outside the repository, with a PATH holding only pipx's bin
folder and the system, and an empty cache directory. Nothing of the repository is importable.

One flow, step by step (each step's failure names the step): init, a component with a C extension
built from source, validate, images (the stand-in base), local run in both modes with exact counts,
a second images that builds nothing, render passing cfn-lint, push and `sceptre launch -y prod`
against the emulator.

The launch is the installed sceptre CLI (`sceptre.cli.cli`, finding our plugins through the
installed distribution's entry points) run by the tool's interpreter through
`local/aws/sceptre_local`, its 4 s status polls capped as every local deploy has them: the
emulator finishes each stack operation within the call, so those sleeps would only be waiting
(tests/stacks and tests/images/test_deploy_built run the stock polls). The `sceptre` command
itself is checked on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambda_complex.builder.local import cache
from lambda_complex.builder.local.aws import emulator_env
from lambda_complex.builder.local.aws.emulator import Emulator
from tests.images.conftest import HOST_CA_BUNDLE, Built, Registry

ROOT = Path(__file__).resolve().parents[2]
INPUTS = 4
# Kept out of the tool's environment: they would let it see this checkout or its venv.
_LEAKY = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "LCBUILD_EMULATOR",
          "LCBUILD_APP", "LCBUILD_MANIFEST")


@dataclass
class Installed:
    bin_dir: Path
    env: dict[str, str]
    work: Path

    @property
    def python(self) -> Path:
        """The interpreter of the tool's own venv (pipx's), where both projects are installed."""
        return Path(os.path.realpath(self.bin_dir / "lcbuild")).parent / "python"

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 900,
            extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=cwd or self.work, env={**self.env, **(extra or {})},
                              capture_output=True, text=True, timeout=timeout, check=False)

    def ok(self, step: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = self.run(*args, **kwargs)
        print(f"{step}: {time.monotonic() - started:.1f} s")  # where the minutes go (pytest -s)
        return _checked(step, done)

    def start(self, *args: str, cwd: Path, extra: dict[str, str]) -> subprocess.Popen[str]:
        """A command left running (`finish` waits for it and checks it like `ok`)."""
        return subprocess.Popen(list(args), cwd=cwd, env={**self.env, **extra}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(step: str, process: subprocess.Popen[str],
           timeout: float = 900) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        process.kill()  # nothing once it has ended; else it does not outlive the test
    print(f"{step}: done")
    return _checked(step, subprocess.CompletedProcess(process.args, process.returncode, stdout,
                                                      stderr))


def _checked(step: str, done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    command = " ".join(map(str, done.args))
    assert done.returncode == 0, (f"{step}: {command} exited {done.returncode}\n"
                                  f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    assert "Traceback" not in done.stderr, f"{step}: traceback\n{done.stderr[-5000:]}"
    return done


def _clean_env(tmp: Path, bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in _LEAKY and not (k.startswith("AWS_") and k != "AWS_CA_BUNDLE")}
    env.update(
        PATH=f"{bin_dir}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        XDG_CACHE_HOME=str(tmp / "cache"),  # lcbuild's own cache starts empty
        # pip's download cache is pip's, not the tool's state: keep it (no re-download per run).
        PIP_CACHE_DIR=os.environ.get("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip")),
        PIPX_HOME=str(tmp / "pipx"),
        PIPX_BIN_DIR=str(bin_dir),
        PIPX_MAN_DIR=str(tmp / "pipx-man"),
    )
    return env


def _pipx() -> list[str]:
    """pipx itself, in a venv of its own (a user has it from their system's packages): made once
    per machine under ~/.cache, as pipx is the tool that installs, not the one under test.
    Run as `python -m pipx` so the venv works wherever it was made (then moved into place)."""
    final = Path.home() / ".cache" / "lambda-complex-tests" / (
        f"pipx-venv-py{sys.version_info.major}.{sys.version_info.minor}")
    python = final / "bin" / "python"
    if not python.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f"{final.name}.{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(partial)], check=True, timeout=120)
        subprocess.run([str(partial / "bin" / "pip"), "install", "-q", "pipx"], check=True,
                       timeout=300)
        try:
            partial.rename(final)
        except OSError:  # another session made it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    return [str(python), "-m", "pipx"]


# What `speed` installs: markupsafe from source, with its build backend (its pyproject.toml).
SPEED_REQUIREMENTS = ("markupsafe==3.0.2", "setuptools>=70.1")


def _wheelhouse() -> Path:
    """The files pip installs during the first local run (the emulator's pinned environment,
    `speed`'s markupsafe source and its build backend), downloaded once per machine under
    ~/.cache, named by what they are for. That run installs from them with PIP_NO_INDEX: pip's
    HTTP cache would spare the downloads, but this machine's proxy sends no caching headers,
    so pip caches nothing, and reading PyPI's index pages for some 60 packages (botocore's
    lists every release) costs pip half a minute of CPU and more on every run. The pins are
    exact (the build backend aside), so the same files are installed either way; reaching an
    index is pip's part (tests/local/test_emulator_env covers an unreachable one)."""
    key = cache.key([emulator_env.pinned(), *SPEED_REQUIREMENTS, cache.interpreter_tag()])
    final = Path.home() / ".cache" / "lambda-complex-tests" / f"wheelhouse-{key}"
    if not final.is_dir():
        partial = final.with_name(f"{final.name}.{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        pip = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
               "-d", str(partial)]
        for args in (["-r", str(emulator_env.REQUIREMENTS)],
                     ["--no-binary", "markupsafe", *SPEED_REQUIREMENTS]):
            done = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=600,
                                  check=False)
            assert done.returncode == 0, f"pip download {args}: {done.stderr[-3000:]}"
        try:
            partial.rename(final)
        except OSError:  # another session made it meanwhile
            shutil.rmtree(partial, ignore_errors=True)
    return final


def _from_wheelhouse(env: dict[str, str], wheelhouse: Path) -> dict[str, str]:
    """pip settings: no index, the wheelhouse added to whatever find-links are set already."""
    links = " ".join(filter(None, [env.get("PIP_FIND_LINKS"), str(wheelhouse)]))
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": links}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The README's install, from wheels of this checkout (README: Install)."""
    tmp = tmp_path_factory.mktemp("installed")
    dist, bin_dir, work = tmp / "dist", tmp / "bin", tmp / "work"
    work.mkdir()
    env = _clean_env(tmp, bin_dir)
    # README: `python3 -m pip wheel --no-deps -w dist ./runtime ./builder` (while pipx is found)
    wheels = subprocess.Popen([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                               str(dist), "./runtime", "./builder"], cwd=ROOT)
    try:
        pipx = _pipx()
    finally:
        assert wheels.wait(300) == 0, "pip wheel failed"
    [wheel] = dist.glob("lambda_complex-*.whl")
    # README: `pipx install --include-deps --pip-args="--find-links=dist" dist/lambda_complex-*.whl`
    done = subprocess.run(
        [*pipx, "install", "--include-deps", f"--pip-args=--find-links={dist}", str(wheel)],
        env=env, cwd=work, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield Installed(bin_dir, env, work)


def test_installed_commands_are_on_path_and_see_no_checkout(installed: Installed) -> None:
    for command in ("lcbuild", "sceptre", "cfn-lint"):
        assert (installed.bin_dir / command).exists(), command
    done = installed.ok("version", "lcbuild", "--version")
    assert "0.1.0" in done.stdout
    assert installed.ok("sceptre version", "sceptre", "--version").stdout.strip()
    # The tool's interpreter finds both projects in its own site-packages, not in this checkout.
    where = installed.ok("imports", str(installed.python), "-c",
                         "import lambda_complex.builder.cli as b, lambda_complex.runtime as r;"
                         "print(b.__file__); print(r.__file__)").stdout.split()
    assert all("site-packages" in p and not p.startswith(str(ROOT)) for p in where), where


SPEED = textwrap.dedent('''\
    """Returns whether MarkupSafe's C extension (built from source in the image) is loaded."""
    from markupsafe import escape


    def handler(event, context):
        from markupsafe import _speedups  # only there when the C extension was compiled
        return {"escaped": str(escape(event["greeting"])), "compiled": bool(_speedups)}
    ''')


def _add_speed_component(app_dir: Path) -> None:
    folder = app_dir / "components" / "speed"
    folder.mkdir()
    (folder / "speed.py").write_text(SPEED)
    # --no-binary: compiled from source, in the build stage (and on the host in process mode).
    (folder / "requirements.txt").write_text("--no-binary markupsafe\nmarkupsafe==3.0.2\n")
    definition = app_dir / "lambda-complex.yaml"
    text = definition.read_text()
    text = text.replace("    batch_size: 5\n", "    batch_size: 5\n    routing: speed\n", 1)
    text += (
        "  - name: speed\n"
        "    type: event_from_invocation\n"
        "    max_concurrency: 2\n"
        "    lambda: {path: components/speed, handler: speed.handler, timeout: 30}\n"
    )
    definition.write_text(text)


def _ca_args() -> list[str]:
    return ["--ca-cert", str(HOST_CA_BUNDLE)] if HOST_CA_BUNDLE.is_file() else []


def _local_run(installed: Installed, app_dir: Path, mode: str,
               extra: dict[str, str] | None = None) -> tuple[dict[str, Any], str]:
    """The report, and what the run said on stderr."""
    report = app_dir / f"report-{mode}.json"
    sends = [a for i in range(INPUTS) for a in ("--send", f'hello={{"name": "n{i}"}}')]
    done = installed.ok(f"local run ({mode})", "lcbuild", "local", "run", "--mode", mode, *sends,
                        "--until-idle", "--timeout", "240", "--report", str(report), cwd=app_dir,
                        extra=extra)
    result: dict[str, Any] = json.loads(report.read_text())
    return result, done.stderr


def _check_counts(result: dict[str, Any], mode: str) -> None:
    components = result["components"]
    for name in ("hello", "speed"):
        c = components[name]
        assert (c["handled"], c["succeeded"], c["failed"], c["dead_lettered"]) == \
            (INPUTS, INPUTS, 0, 0), (mode, name, c)
    assert result["totals"] == {"sent": INPUTS, "dead_lettered": 0, "lost": 0}, (mode, result)


def test_a_new_application_from_init_to_deploy(
    installed: Installed, base_image: str, registry: Registry, emulator_server: Emulator,
    built: Built,
) -> None:
    # `built` (the example application, pushed once per session to this same registry) leaves
    # the layers every image shares (base, runtime) there, as a user's registry holds them after
    # their first push: the push below still sends this application's own layers and manifests
    # and records the digests the launch deploys.
    # A name of its own: nothing this engine built before matches its content hashes, so every
    # image (and the C extension) is really built.
    name = f"myapp-{uuid.uuid4().hex[:6]}"
    installed.ok("init", "lcbuild", "init", name)
    app_dir = installed.work / name
    _add_speed_component(app_dir)
    installed.ok("validate", "lcbuild", "validate", cwd=app_dir)

    build_env = {"LCBUILD_BASE_IMAGE": base_image}
    # The images build while the process-mode run (which needs none) sets up the emulator: the
    # two minutes of this test that wait on pip, side by side.
    images = installed.start("lcbuild", "images", "--json", *_ca_args(), cwd=app_dir,
                             extra=build_env)
    try:
        result, said = _local_run(installed, app_dir, "process",
                                  _from_wheelhouse(installed.env, _wheelhouse()))
    except BaseException:
        images.kill()
        raise
    first = json.loads(finish("images", images).stdout)
    assert {i["name"]: i["status"] for i in first["images"]} == \
        {"hello": "built", "speed": "built", "coordinator": "built"}
    _check_counts(result, "process")
    # The first run provisions the emulator into the (empty) cache, saying so once; the next
    # one finds it there.
    setting_up = [line for line in said.splitlines() if "setting up the AWS emulator" in line]
    assert len(setting_up) == 1, said
    assert "lambda-complex/emulator" in setting_up[0] and "once" in setting_up[0], setting_up
    assert any((Path(installed.env["XDG_CACHE_HOME"]) / "lambda-complex" / "emulator").iterdir())
    result, said = _local_run(installed, app_dir, "container")
    _check_counts(result, "container")
    assert "setting up the AWS emulator" not in said

    again = json.loads(installed.ok("images again", "lcbuild", "images", "--json", *_ca_args(),
                                    cwd=app_dir, extra=build_env).stdout)
    assert {i["status"] for i in again["images"]} == {"skipped"}, again["images"]

    out = app_dir / "rendered"
    installed.ok("render", "lcbuild", "render", "--out", str(out), cwd=app_dir)
    templates = sorted(out.glob("*.json"))
    assert len(templates) == 3, templates
    installed.ok("cfn-lint", "cfn-lint", *map(str, templates), cwd=app_dir)

    installed.ok("push", "lcbuild", "images", "--push", "--registry", registry.address,
                 *_ca_args(), cwd=app_dir, extra=build_env)
    emulator_server.reset()
    installed.ok("sceptre launch", str(installed.python), "-m",
                 "lambda_complex.builder.local.aws.sceptre_local", "launch", "-y", "prod",
                 cwd=app_dir, extra=emulator_server.client_env(), timeout=600)
    cfn = boto3.client("cloudformation", endpoint_url=emulator_server.endpoint_url,
                       region_name="eu-west-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    stacks = {s["StackName"]: s["StackStatus"] for s in cfn.describe_stacks()["Stacks"]}
    assert stacks == {f"{name}-{s}": "CREATE_COMPLETE"
                      for s in ("queues", "functions", "coordinator")}, stacks
