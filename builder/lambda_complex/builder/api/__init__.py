"""The Python API: everything `lcbuild` does, callable from code. The CLI is a thin layer over
it (it parses options, calls these functions and prints what they return; an import-linter
contract in the root pyproject keeps it so).

    from lambda_complex.builder import api

    app = api.load("lambda-complex.yaml")          # DefinitionError lists every problem
    result = api.build(app, push=True)              # content-addressed images, pushed by digest
    api.deploy(app)                                 # `sceptre launch -y prod` of the project
    print(api.status_text(api.status(app)))         # `lcbuild status`
    with api.run_locally(app.source) as bed:        # the embedded testbed of `lcbuild local run`
        bed.send("ingest", {...}); bed.wait_idle(120); print(bed.report())

By what they are about: `definition` (load, validate, graph, init), `artifacts` (build the
images, render the templates), `deployment` (doctor, plan, deploy), `operations` (status,
pause, resume, redrive, trace, on AWS or on a local run), `watch` (status redrawn in place),
`local_run` (run, deploy to and invoke on this machine). boto3 and the Docker SDK are imported
by the functions that use them, never with the API: `lcbuild --help` loads neither.

Each name is imported from its module on first use (PEP 562): a command pays for the modules it
calls, not for every other command's (`lcbuild local invoke` never loads the image builder, the
deploy or the templates' modules). Type checkers read the imports below as ordinary ones.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lambda_complex.builder.api.artifacts import BASE_IMAGE_ENV, RENDER_DIR, build, render
    from lambda_complex.builder.api.definition import (
        DEFAULT_FILE,
        GRAPH_FORMATS,
        IMAGE_FORMATS,
        graph,
        graph_image,
        init,
        load,
        validate,
    )
    from lambda_complex.builder.api.deployment import (
        deploy,
        deployer_policy,
        doctor,
        doctor_failures,
        plan,
        plan_text,
    )
    from lambda_complex.builder.api.local_run import (
        MODES,
        LiveView,
        Mode,
        default_local_mode,
        invoke_once,
        local_deploy,
        redeploy_on_hangup,
        run_locally,
    )
    from lambda_complex.builder.api.operations import (
        connect,
        pause,
        pause_text,
        redrive,
        resume,
        status,
        status_text,
        trace,
        trace_text,
    )
    from lambda_complex.builder.api.watch import live_screen, status_lines
    from lambda_complex.builder.app.model import App
    from lambda_complex.builder.deploy.doctor import Check
    from lambda_complex.builder.deploy.preview import Preview
    from lambda_complex.builder.deploy.redrive import Redriven
    from lambda_complex.builder.deploy.status import Status
    from lambda_complex.builder.deploy.trace import Step
    from lambda_complex.builder.images.pipeline import Options as BuildOptions
    from lambda_complex.builder.images.pipeline import Result as BuildResult
    from lambda_complex.builder.local.run.files import START_HINT as LOCAL_RUN_HINT
    from lambda_complex.builder.local.run.invoke_once import Outcome
    from lambda_complex.builder.local.run.testbed import Testbed

__all__ = [
    "BASE_IMAGE_ENV", "DEFAULT_FILE", "GRAPH_FORMATS", "IMAGE_FORMATS", "LOCAL_RUN_HINT", "MODES",
    "RENDER_DIR",
    "App", "BuildOptions", "BuildResult", "Check", "LiveView", "Mode", "Outcome", "Preview",
    "Redriven", "Status", "Step", "Testbed", "build", "connect", "default_local_mode", "deploy",
    "deployer_policy", "doctor", "doctor_failures", "graph", "graph_image", "init",
    "invoke_once", "live_screen", "load", "local_deploy", "pause", "pause_text", "plan",
    "plan_text", "redeploy_on_hangup", "redrive", "render", "resume", "run_locally", "status",
    "status_lines", "status_text", "trace", "trace_text", "validate",
]

_API = "lambda_complex.builder.api"
# name -> (the module that defines it, its name there); the same table as the imports above.
_WHERE: dict[str, tuple[str, str]] = {
    **{name: (f"{_API}.artifacts", name)
       for name in ("BASE_IMAGE_ENV", "RENDER_DIR", "build", "render")},
    **{name: (f"{_API}.definition", name)
       for name in ("DEFAULT_FILE", "GRAPH_FORMATS", "IMAGE_FORMATS", "graph", "graph_image",
                    "init", "load", "validate")},
    **{name: (f"{_API}.deployment", name)
       for name in ("deploy", "deployer_policy", "doctor", "doctor_failures", "plan",
                    "plan_text")},
    **{name: (f"{_API}.local_run", name)
       for name in ("MODES", "LiveView", "Mode", "default_local_mode", "invoke_once",
                    "local_deploy", "redeploy_on_hangup", "run_locally")},
    **{name: (f"{_API}.operations", name)
       for name in ("connect", "pause", "pause_text", "redrive", "resume", "status",
                    "status_text", "trace", "trace_text")},
    **{name: (f"{_API}.watch", name) for name in ("live_screen", "status_lines")},
    "App": ("lambda_complex.builder.app.model", "App"),
    "Check": ("lambda_complex.builder.deploy.doctor", "Check"),
    "Preview": ("lambda_complex.builder.deploy.preview", "Preview"),
    "Redriven": ("lambda_complex.builder.deploy.redrive", "Redriven"),
    "Status": ("lambda_complex.builder.deploy.status", "Status"),
    "Step": ("lambda_complex.builder.deploy.trace", "Step"),
    "BuildOptions": ("lambda_complex.builder.images.pipeline", "Options"),
    "BuildResult": ("lambda_complex.builder.images.pipeline", "Result"),
    "LOCAL_RUN_HINT": ("lambda_complex.builder.local.run.files", "START_HINT"),
    "Outcome": ("lambda_complex.builder.local.run.invoke_once", "Outcome"),
    "Testbed": ("lambda_complex.builder.local.run.testbed", "Testbed"),
}


def __getattr__(name: str) -> object:
    """A name of `__all__`, imported from its module on first use and kept. Typed `object`: a
    name the imports above do not declare is an error for the type checker too."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _WHERE[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
