"""Dockerfiles: the shared runtime base (`Dockerfile.base`), the dependency stage, the component
images and the coordinator image. Rendering is pure text; hashing covers the rendered text.

Layer order follows change frequency: base and runtime (rarely), build tools (per set of system
packages), dependencies (per requirements file), then code and compiled config (often; per
definition). Every step costs a container commit with the classic builder, whatever it does, so
steps that change with the same inputs are one step, a step that would do nothing is left out
(the build tools on a base that has them), and what every component image sets alike (the
wrapper as its command) is set once, in the runtime base. The critical path of a cold build is
the dependency stage (2-4 steps, grown from the base image while the runtime base builds), then
the component: two copies, as the code of every component built in the run was compiled in one
stage meanwhile (`code_stage`, `component_from_stages`).
"""

from __future__ import annotations

import re
import shlex

from lambda_complex.runtime.entrypoints import COORDINATOR_HANDLER, WRAPPER_HANDLER

TASK_ROOT = "${LAMBDA_TASK_ROOT}"

# Paths used inside build stages only (never in a final image).
STAGE_ROOT = "/opt/lcbuild"
CA_DIR = f"{STAGE_ROOT}/ca"
CA_BUNDLE = f"{STAGE_ROOT}/ca-bundle.pem"
REQUIREMENTS_DIR = f"{STAGE_ROOT}/requirements"
DEPS_DIR = f"{STAGE_ROOT}/deps"
CODE_DIR = f"{STAGE_ROOT}/code"  # in a code stage: a folder per component
BASE_IMAGE_ENV = "LCBUILD_BASE_IMAGE"  # overrides Dockerfile.base's pinned BASE_IMAGE
TASK_DIR = "task"  # in a component's build context: its code (copied with the config)
STAGE_DIR = "stage"  # in a lean dependency stage's context: requirements/ and ca/, one COPY
CODE_CONTEXT_DIR = "code"  # in a code stage's context: a folder per component

# System CA bundles of the bases we know (Amazon Linux, Debian): extra CAs are appended to it so
# that public hosts stay trusted when a corporate proxy CA is added.
_SYSTEM_BUNDLES = ("/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt")


def read_dockerfile_base() -> str:
    """`Dockerfile.base` as this package ships it (the repository's top-level file is the
    source; the package holds it, so an installed `lcbuild` never reads a checkout)."""
    from importlib import resources  # only builds read it: not worth importing for other commands
    return resources.files(__package__).joinpath("Dockerfile.base").read_text(encoding="utf-8")


_BASE_ARG = re.compile(r"^ARG\s+BASE_IMAGE=(\S+)\s*$", re.MULTILINE)


def default_base_image(dockerfile_base: str) -> str:
    """The pinned default of `ARG BASE_IMAGE=` (one place to bump it)."""
    match = _BASE_ARG.search(dockerfile_base)
    if match is None:
        raise ValueError("Dockerfile.base has no `ARG BASE_IMAGE=<image>` line")
    return match.group(1)


def runtime_base(dockerfile_base: str) -> str:
    """The runtime base's Dockerfile: `Dockerfile.base` with the wrapper as the command, which
    every component image inherits (a step fewer in each); the coordinator image sets its
    own."""
    return f'{dockerfile_base.rstrip()}\nCMD ["{WRAPPER_HANDLER}"]\n'


def _ca_env() -> str:
    return f"PIP_CERT={CA_BUNDLE} SSL_CERT_FILE={CA_BUNDLE} REQUESTS_CA_BUNDLE={CA_BUNDLE}"


def _ca_setup() -> str:
    """Shell that makes the CA bundle (the system bundle plus the extra CAs) and exports the
    variables that make pip and the package manager trust it, in this RUN only: the stage
    keeps no ENV that a later image could inherit."""
    bundles = " ".join(_SYSTEM_BUNDLES)
    return (f"for b in {bundles}; do if [ -f \"$b\" ]; then cat \"$b\" > {CA_BUNDLE}; "
            f"break; fi; done; cat {CA_DIR}/*.pem >> {CA_BUNDLE}; export {_ca_env()}; ")


# What the build tools step looks for (`command -v`), where a base keeps it: read from the base
# image before a dependency stage is built, to leave the step out when it would do nothing.
GCC, APT_GET, DNF, MICRODNF = ("/usr/bin/gcc", "/usr/bin/apt-get", "/usr/bin/dnf",
                               "/usr/bin/microdnf")
BUILD_TOOL_PATHS = (GCC, APT_GET, DNF, MICRODNF)


def has_build_tools(present: frozenset[str]) -> bool:
    """Whether the build tools step, without system packages to install, would do nothing on a
    base with these of BUILD_TOOL_PATHS: an apt-get base (no dnf, no microdnf) that has gcc.
    On dnf bases the step always installs (gcc-c++ and make come with it)."""
    return {APT_GET, GCC} <= present and not {DNF, MICRODNF} & present


def build_tools_step(build_packages: tuple[str, ...], has_ca: bool = False) -> str:
    """One RUN that installs the compiler (and the component's system packages) with the base's
    package manager: dnf/microdnf on the Amazon Linux Lambda base, apt-get on the Debian
    stand-in (which already has gcc, so it installs only the packages a component asks for).
    With extra CAs it first makes their bundle (`_ca_setup`): one step fewer on the critical
    path, and both depend on the same inputs, so no cache is lost."""
    pkgs = " ".join(shlex.quote(p) for p in build_packages)
    return (
        f'RUN set -e; {_ca_setup() if has_ca else ""}pkgs="{pkgs}"; '
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


def _pip_install(has_requirements: bool) -> str:
    """pip without bytecode (`PIP_COMPILE=0`, pip's `--compile` option off), then the installed
    files compiled in parallel (`-j 0`: a process per CPU; pip compiles one file at a time).
    The variable also reaches the pip that fills a source package's build environment, which
    `--no-compile` does not: that environment, thrown away after the build, is then compiled
    only as far as the build imports it (setuptools' install went from 1.1 s to 0.2 s). As
    with pip, a file that does not compile is left without bytecode and fails nothing
    (packages ship templates and examples that are not Python)."""
    if not has_requirements:
        return f"mkdir -p {DEPS_DIR}"
    return (f"PIP_COMPILE=0 python3 -m pip install --no-cache-dir --disable-pip-version-check "
            f"--no-warn-script-location --target {DEPS_DIR} -r {REQUIREMENTS_DIR}/requirements.txt"
            f" && (python3 -m compileall -qq -j 0 {DEPS_DIR} || true)")


def dependencies(base_image: str, build_packages: tuple[str, ...], has_requirements: bool,
                 has_ca: bool) -> str:
    """The dependency stage: the base image + build tools + `pip install --target`. Shared by
    every component with the same requirements and system packages; its layers depend only on
    those (the build tools before the requirements, so a changed requirement reuses them).
    FROM the base, not the runtime base, so that it builds while the runtime base does. Built
    only for components with requirements (`needs_dependency_stage`)."""
    ca_env = f"{_ca_env()} " if has_ca else ""
    lines = [
        "# Rendered by lcbuild: the dependency stage (never pushed; only its files are copied).",
        f"FROM {base_image}",
        *([f"COPY ca/ {CA_DIR}/"] if has_ca else []),
        build_tools_step(build_packages, has_ca),
        f"COPY requirements/ {REQUIREMENTS_DIR}/",
        f"RUN {ca_env}{_pip_install(has_requirements)}",
    ]
    return "\n".join(lines) + "\n"


def lean_dependencies(base_image: str, has_requirements: bool, has_ca: bool) -> str:
    """The dependency stage on a base that has its build tools (`has_build_tools`), with no
    system packages to install: the same files in two steps fewer. The requirements and the
    CAs arrive in one COPY (`STAGE_DIR`: requirements/ and ca/ under /opt/lcbuild) and the CA
    bundle is made in pip's step; there is no tools layer to keep apart, as there are no tools
    to install."""
    setup = f"set -e; {_ca_setup()}" if has_ca else ""
    return "\n".join([
        "# Rendered by lcbuild: the dependency stage on a base with its build tools (never "
        "pushed; only its files are copied).",
        f"FROM {base_image}",
        f"COPY {STAGE_DIR}/ {STAGE_ROOT}/",
        f"RUN {setup}{_pip_install(has_requirements)}",
    ]) + "\n"


def needs_dependency_stage(has_requirements: bool) -> bool:
    """Only requirements need one: without them there is nothing to install, and the build
    packages serve only to compile requirements."""
    return has_requirements


def _compiled(code_names: tuple[str, ...], root: str = TASK_ROOT) -> str:
    """compileall's arguments: the code's top-level files and folders under `root`."""
    return " ".join(f"{root}/{shlex.quote(n)}" for n in code_names) or root


def component(deps_image: str, runtime_image: str, has_requirements: bool,
              config_file: str, code_names: tuple[str, ...] = ()) -> str:
    """A component image, in as few steps as the layer order allows: the installed files of the
    dependency stage (no compiler, no CA: only DEPS_DIR is copied), then the code (`task/`)
    with the config in one step (both small), byte-compiled in place (a syntax error fails the
    build; Lambda's file system is read-only, so a cold start could not cache bytecode). The
    command is the runtime base's, and no label is set: the repository names the image, and a
    LABEL would be one more step on the path of every build. The code comes last, so a handler
    edit rebuilds two small layers and every step before it is cached. `code_names`: the code's
    top-level files and folders (compiled; nothing else is)."""
    lines = [
        "# Rendered by lcbuild: a component image.",
        f"FROM {runtime_image}",
    ]
    if has_requirements:
        lines.append(f"COPY --from={deps_image} {DEPS_DIR}/ {TASK_ROOT}/")
    lines += [
        f"COPY {TASK_DIR}/ {config_file} {TASK_ROOT}/",
        f"RUN python3 -m compileall -q {_compiled(code_names)}",
    ]
    return "\n".join(lines) + "\n"


def code_stage(base_image: str, members: tuple[tuple[str, tuple[str, ...]], ...]) -> str:
    """Components' code and config, byte-compiled as their images keep them, in a stage of their
    own grown from the base image (never pushed; only each CODE_DIR/<name>/ is copied).
    `members`: (component, its code's top-level names). One copy and one compiling step for all
    of a run's components instead of two steps in each image, built after the runtime base while
    pip runs; each image then copies its folder (`component_from_stages`). compileall's
    `-s`/`-p` compile each file as if it were in TASK_ROOT, where the usual build compiles it:
    the same bytecode. A syntax error fails the stage; lcbuild then builds each image the usual
    way, which fails only the component whose code it is."""
    commands = " && ".join(
        f"python3 -m compileall -q -s {CODE_DIR}/{name} -p {TASK_ROOT} "
        f"{_compiled(names, f'{CODE_DIR}/{name}')}" for name, names in members)
    return "\n".join([
        "# Rendered by lcbuild: components' compiled code (never pushed; only its files are "
        "copied).",
        f"FROM {base_image}",
        f"COPY {CODE_CONTEXT_DIR}/ {CODE_DIR}/",
        f"RUN {commands}",
    ]) + "\n"


def component_from_stages(deps_image: str | None, runtime_image: str, code_image: str,
                          name: str) -> str:
    """A component image whose code was compiled in a code stage: after its dependencies' copy
    (the usual build's first step, so the next edit reuses that layer), one copy instead of the
    code's copy and its compilation. The same files as `component`."""
    return "\n".join([
        "# Rendered by lcbuild: a component image, from its compiled code's stage.",
        f"FROM {runtime_image}",
        *([f"COPY --from={deps_image} {DEPS_DIR}/ {TASK_ROOT}/"] if deps_image else []),
        f"COPY --from={code_image} {CODE_DIR}/{name}/ {TASK_ROOT}/",
    ]) + "\n"


def coordinator(runtime_image: str, config_file: str) -> str:
    """The coordinator/invoker image: the runtime and the whole application's config."""
    return "\n".join([
        "# Rendered by lcbuild: the coordinator/invoker image.",
        f"FROM {runtime_image}",
        f"COPY {config_file} {TASK_ROOT}/",
        f'CMD ["{COORDINATOR_HANDLER}"]',
    ]) + "\n"
