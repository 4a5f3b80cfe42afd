"""What a process-mode worker may import: what the component's image would hold, nothing of the
tool's own environment.

An image holds the component's folder and its installed `requirements.txt` in /var/task, the
runtime package beside them, and the Lambda base image's own packages (the runtime interface
client and boto3). A worker gets the same, as an explicit `PYTHONPATH` for `python -S` (no
site-packages):

1. the component folder (LAMBDA_TASK_ROOT);
2. its `requirements.txt`, installed once with `pip install --target` into a cached folder named by
   a hash of the file and the interpreter (so a handler importing a package it does not list fails
   here as it fails in its image, and one that lists it works);
3. the runtime package, staged from the files the images copy, named by their content hash;
4. the base image's packages: a cached folder of links to the files of those distributions (and of
   everything they require) in the tool's environment, found with importlib.metadata.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lambda_complex.builder.errors import UserError
from lambda_complex.builder.images import context, specs
from lambda_complex.builder.local import cache

# What the AWS Lambda Python base image carries besides the standard library.
BASE_DISTRIBUTIONS = ("awslambdaric", "boto3")
REQUIREMENTS_FILE = "requirements.txt"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"\bextra\s*==")  # a requirement of an extra, not of the package itself
_PIP_TAIL_LINES = 3


class RequirementsError(UserError):
    """A component's requirements could not be installed."""


@dataclass(frozen=True)
class WorkerEnvironment:
    task_root: Path
    path: tuple[Path, ...]  # PYTHONPATH, in order

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join(str(p) for p in self.path)


def prepare(
    task_root: Path, label: str, distributions: Iterable[str] = BASE_DISTRIBUTIONS
) -> WorkerEnvironment:
    """The import path of a worker for the code in `task_root` (`label` names it in messages)."""
    task_root = task_root.resolve()
    path = [task_root]
    requirements = task_root / REQUIREMENTS_FILE
    if requirements.is_file():
        path.append(requirements_dir(requirements, label))
    path += [runtime_dir(), base_dir(tuple(distributions))]
    return WorkerEnvironment(task_root, tuple(path))


# 2. The component's requirements.
def requirements_dir(requirements: Path, label: str) -> Path:
    text = requirements.read_text(encoding="utf-8")
    target = cache.root() / "requirements" / cache.key([text, cache.interpreter_tag()])
    if target.is_dir():
        return target
    cache.say(f"installing the requirements of {label} ({cache.display(requirements)}) into "
              f"{cache.display(target)}: seconds to minutes, once")
    return cache.build_once(target, lambda partial: _pip_install(requirements, partial, label))


def pip_command() -> list[str]:
    """pip for this interpreter: its own, or (an environment made without pip) the emulator
    environment's pip acting on this interpreter (`pip --python`)."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    from lambda_complex.builder.local.aws import emulator_env

    return [str(emulator_env.provision()), "-m", "pip", "--python", sys.executable]


def _pip_install(requirements: Path, target: Path, label: str) -> None:
    done = subprocess.run(
        [*pip_command(), "install", "--disable-pip-version-check", "--no-input", "--quiet",
         "--target", str(target), "-r", str(requirements)],
        cwd=requirements.parent,  # relative paths in the file mean the component's folder
        stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RequirementsError(
            f"{label}: pip could not install {requirements}: {pip_tail(done.stderr + done.stdout)}"
        )


def pip_tail(output: str) -> str:
    """pip's error lines (its last few lines if it printed none), joined on one line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return " | ".join((errors or lines)[-_PIP_TAIL_LINES:]) or "pip exited with an error"


# 3. The runtime package, as the images carry it.
def runtime_dir() -> Path:
    entries = specs.runtime_entries()
    target = cache.root() / "runtime" / context.digest(entries)[:16]

    def stage(partial: Path) -> None:
        for entry in entries:
            file = partial / entry.name
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(entry.data)
            file.chmod(entry.mode)

    return cache.build_once(target, stage)


# 4. The base image's packages.
def closure(names: Iterable[str]) -> list[importlib.metadata.Distribution]:
    """The installed distributions `names` and everything they require (extras left out),
    each once. A missing top-level name is left out too: the worker then fails to import it,
    as an image without it would."""
    found: dict[str, importlib.metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = _normalized(pending.pop())
        if name in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found[name] = dist
        for requirement in dist.requires or []:
            match = _NAME.match(requirement)
            if match and not _EXTRA.search(requirement):
                pending.append(match.group(1))
    return [found[n] for n in sorted(found)]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def base_dir(names: tuple[str, ...]) -> Path:
    dists = closure(names)
    described = [f"{d.metadata['Name']}=={d.version}@{d.locate_file('')}" for d in dists]
    target = cache.root() / "base" / cache.key([*names, "|", *described, cache.interpreter_tag()])

    def link(partial: Path) -> None:
        for dist in dists:
            for file in dist.files or []:
                relative = Path(str(file))
                if relative.parts[0] == ".." or "__pycache__" in relative.parts:
                    continue  # scripts outside site-packages; bytecode is made afresh
                source = Path(str(dist.locate_file(file)))
                if not source.exists():
                    continue
                link_path = partial / relative
                link_path.parent.mkdir(parents=True, exist_ok=True)
                if not link_path.exists():
                    link_path.symlink_to(source.resolve())

    return cache.build_once(target, link)
