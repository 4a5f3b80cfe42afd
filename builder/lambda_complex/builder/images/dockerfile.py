"""Dockerfiles: the shared runtime base (`Dockerfile.base`), the dependency stage, the component
images and the coordinator image. Rendering is pure text; hashing covers the rendered text.

Layer order follows change frequency: base and runtime (rarely), build tools (per set of system
packages), dependencies (per requirements file), code (often), compiled config (per definition).
"""

from __future__ import annotations

import re
import shlex
from importlib import resources

from lambda_complex.runtime.entrypoints import COORDINATOR_HANDLER, WRAPPER_HANDLER

TASK_ROOT = "${LAMBDA_TASK_ROOT}"

# Paths used inside build stages only (never in a final image).
CA_DIR = "/opt/lcbuild/ca"
CA_BUNDLE = "/opt/lcbuild/ca-bundle.pem"
REQUIREMENTS_DIR = "/opt/lcbuild/requirements"
DEPS_DIR = "/opt/lcbuild/deps"
BASE_IMAGE_ENV = "LCBUILD_BASE_IMAGE"  # overrides Dockerfile.base's pinned BASE_IMAGE
CODE_DIR = "/opt/lcbuild/code"
IMAGE_LABEL = "org.lambda-complex.image"  # which image of the application this is

# System CA bundles of the bases we know (Amazon Linux, Debian): extra CAs are appended to it so
# that public hosts stay trusted when a corporate proxy CA is added.
_SYSTEM_BUNDLES = ("/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt")


def read_dockerfile_base() -> str:
    """`Dockerfile.base` as this package ships it (the repository's top-level file is the
    source; the package holds it, so an installed `lcbuild` never reads a checkout)."""
    return resources.files(__package__).joinpath("Dockerfile.base").read_text(encoding="utf-8")


_BASE_ARG = re.compile(r"^ARG\s+BASE_IMAGE=(\S+)\s*$", re.MULTILINE)


def default_base_image(dockerfile_base: str) -> str:
    """The pinned default of `ARG BASE_IMAGE=` (one place to bump it)."""
    match = _BASE_ARG.search(dockerfile_base)
    if match is None:
        raise ValueError("Dockerfile.base has no `ARG BASE_IMAGE=<image>` line")
    return match.group(1)


def _ca_lines(has_ca: bool) -> list[str]:
    if not has_ca:
        return []
    bundles = " ".join(_SYSTEM_BUNDLES)
    return [
        "# Extra CA certificates (--ca-cert, LCBUILD_CA_CERT): this stage only, never in an image.",
        f"COPY ca/ {CA_DIR}/",
        f"RUN set -e; for b in {bundles}; do if [ -f \"$b\" ]; then cat \"$b\" > {CA_BUNDLE}; "
        f"break; fi; done; cat {CA_DIR}/*.pem >> {CA_BUNDLE}",
        f"ENV PIP_CERT={CA_BUNDLE} SSL_CERT_FILE={CA_BUNDLE} REQUESTS_CA_BUNDLE={CA_BUNDLE}",
    ]


def build_tools_step(build_packages: tuple[str, ...]) -> str:
    """One RUN that installs the compiler (and the component's system packages) with the base's
    package manager: dnf/microdnf on the Amazon Linux Lambda base, apt-get on the Debian
    stand-in (which already has gcc, so it installs only the packages a component asks for)."""
    pkgs = " ".join(shlex.quote(p) for p in build_packages)
    return (
        f'RUN set -e; pkgs="{pkgs}"; '
        "if command -v dnf >/dev/null 2>&1; then dnf install -y gcc gcc-c++ make $pkgs; "
        "dnf clean all; "
        "elif command -v microdnf >/dev/null 2>&1; then "
        "microdnf install -y gcc gcc-c++ make $pkgs; "
        "microdnf clean all; "
        "elif command -v apt-get >/dev/null 2>&1; then "
        'if [ -n "$pkgs" ] || ! command -v gcc >/dev/null 2>&1; then apt-get update; '
        "apt-get install -y --no-install-recommends gcc g++ make $pkgs; "
        "rm -rf /var/lib/apt/lists/*; fi; "
        'else echo "lcbuild: the base image has neither dnf, microdnf nor apt-get" >&2; exit 1; fi'
    )


def dependencies(runtime_image: str, build_packages: tuple[str, ...], has_requirements: bool,
                 has_ca: bool) -> str:
    """The dependency stage: runtime base + build tools + `pip install --target`. Shared by every
    component with the same requirements and system packages; its layers depend only on those."""
    lines = [
        "# Rendered by lcbuild: the dependency stage (never pushed; only its files are copied).",
        f"FROM {runtime_image}",
        *_ca_lines(has_ca),
        build_tools_step(build_packages),
        f"COPY requirements/ {REQUIREMENTS_DIR}/",
    ]
    if has_requirements:
        lines.append(
            "RUN python3 -m pip install --no-cache-dir --disable-pip-version-check "
            f"--no-warn-script-location --target {DEPS_DIR} -r {REQUIREMENTS_DIR}/requirements.txt"
        )
    else:
        lines.append(f"RUN mkdir -p {DEPS_DIR}")
    return "\n".join(lines) + "\n"


def _label(name: str) -> str:
    return f"LABEL {IMAGE_LABEL}={shlex.quote(name)}"


def component(deps_image: str, runtime_image: str, has_requirements: bool,
              config_file: str, name: str) -> str:
    """A component image: the code is byte-compiled in the dependency stage (a syntax error fails
    the build there), then installed files and code are copied onto the runtime base. The code
    comes last, so an edit to a handler rebuilds one small layer and every step before it is
    cached (the config and CMD change only with the definition)."""
    lines = [
        "# Rendered by lcbuild: a component image.",
        f"FROM {deps_image} AS build",
        f"COPY code/ {CODE_DIR}/",
        f"RUN python3 -m compileall -q {CODE_DIR}",
        f"FROM {runtime_image}",
    ]
    if has_requirements:
        lines.append(f"COPY --from=build {DEPS_DIR}/ {TASK_ROOT}/")
    lines += [
        f"COPY {config_file} {TASK_ROOT}/",
        f'CMD ["{WRAPPER_HANDLER}"]',
        _label(name),
        f"COPY --from=build {CODE_DIR}/ {TASK_ROOT}/",
    ]
    return "\n".join(lines) + "\n"


def coordinator(runtime_image: str, config_file: str, name: str) -> str:
    """The coordinator/invoker image: the runtime and the whole application's config."""
    return "\n".join([
        "# Rendered by lcbuild: the coordinator/invoker image.",
        f"FROM {runtime_image}",
        f"COPY {config_file} {TASK_ROOT}/",
        f'CMD ["{COORDINATOR_HANDLER}"]',
        _label(name),
    ]) + "\n"
