"""The AWS emulator's own environment: a venv holding `moto[server]` at the versions pinned in
`emulator-requirements.txt` (shipped beside this module), made on first use under the user's
cache directory and reused afterwards.

moto[server] cannot share the tool's environment: sceptre pins jsonschema<3.3 while moto's server
needs jsonschema 4. And only the pinned moto is known to work with `emulator_server/serve.py`, which
patches moto's internals, so an arbitrary moto_server found on PATH is not used.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from lambda_complex.builder.errors import UserError
from lambda_complex.builder.local import cache

REQUIREMENTS = Path(__file__).with_name("emulator-requirements.txt")
OVERRIDE_ENV = "LCBUILD_EMULATOR"  # a moto_server executable to use instead (the one definition)
SUBDIR = "emulator"
# How pip says the index is out of reach, most telling first.
_UNREACHABLE = (
    "Connection refused", "Name or service not known", "Temporary failure in name resolution",
    "Network is unreachable", "timed out", "ProxyError", "SSLError",
    "Failed to establish a new connection",
)


class EmulatorNotFound(UserError):
    """No emulator: the override names no file, or its environment could not be made."""


def pinned() -> str:
    return REQUIREMENTS.read_text(encoding="utf-8")


def moto_version(requirements: str) -> str:
    found = re.search(r"^moto\[server\]==(\S+)", requirements, re.MULTILINE)
    return found.group(1) if found else "?"


def env_dir() -> Path:
    """Where the environment for this list of pins and this interpreter lives."""
    return cache.root() / SUBDIR / cache.key([pinned(), cache.interpreter_tag()])


def python_of(env: Path) -> Path:
    return env / "bin" / "python"


def find() -> Path | None:
    """The provisioned environment's Python, if it was made already."""
    python = python_of(env_dir())
    return python if python.exists() else None


def provision() -> Path:
    """The environment's Python: found, or made now (one progress line on stderr)."""
    found = find()
    if found is not None:
        return found
    requirements = pinned()
    target = env_dir()
    cache.say(
        f"setting up the AWS emulator (moto {moto_version(requirements)}) in "
        f"{cache.display(target)}: a minute or two, once"
    )
    log_path = target.parent / f"{target.name}.log"  # pip's output, kept when it fails
    cache.build_once(target, lambda partial: _build(partial, requirements, log_path))
    return python_of(target)


def _build(partial: Path, requirements: str, log_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(partial)], capture_output=True, text=True, check=False
    )
    if made.returncode != 0:
        raise EmulatorNotFound(
            f"cannot set up the AWS emulator: `{sys.executable} -m venv` failed "
            f"({_last_line(made.stderr or made.stdout)}); install Python's venv module "
            f"(Debian: python3-venv) or set {OVERRIDE_ENV} to a moto_server executable"
        )
    (partial / "requirements.txt").write_text(requirements, encoding="utf-8")
    with open(log_path, "w", encoding="utf-8") as log:
        installed = subprocess.run(
            [str(python_of(partial)), "-m", "pip", "install", "--disable-pip-version-check",
             "--no-input", "-r", str(partial / "requirements.txt")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True, check=False,
        )
    if installed.returncode != 0:
        raise EmulatorNotFound(install_failure(log_path.read_text(encoding="utf-8"), log_path))
    log_path.unlink(missing_ok=True)


def install_failure(pip_output: str, log_path: Path) -> str:
    """One sentence: what failed, why (pip's own words), what to do."""
    errors = [line for line in pip_output.splitlines() if line.startswith("ERROR:")]
    reason = errors[-1].removeprefix("ERROR:").strip() if errors else _last_line(pip_output)
    network = next((phrase for phrase in _UNREACHABLE if phrase in pip_output), None)
    if network or "(from versions: none)" in pip_output:  # none of what exists on PyPI: no index
        indexes = re.search(r"^Looking in indexes: (.+)$", pip_output, re.MULTILINE)
        where = indexes.group(1).strip() if indexes else "the package index"
        why = network or reason
        return (
            f"cannot set up the AWS emulator: the package index could not be reached ({where}: "
            f"{why}); connect to the network or point pip at a reachable index (PIP_INDEX_URL "
            f"or pip.conf), or set {OVERRIDE_ENV} to a moto_server executable (pip's output: "
            f"{log_path})"
        )
    return (
        f"cannot set up the AWS emulator: pip could not install moto[server] and its pinned "
        f"dependencies ({reason}); see {log_path}, or set {OVERRIDE_ENV} to a moto_server "
        f"executable"
    )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
