"""The handlers the images, the templates and the local service run: one definition in the
runtime (`runtime/entrypoints.py`), each naming a real callable of the runtime."""

from __future__ import annotations

import importlib

from lambda_complex.builder.app import load
from lambda_complex.builder.cfn import function_specs
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.images import dockerfile
from lambda_complex.runtime import entrypoints
from tests.images.conftest import ROOT


def test_every_entry_point_is_a_handler_of_the_runtime() -> None:
    for handler in entrypoints.HANDLERS:
        module, function = handler.rsplit(".", 1)
        assert module.startswith("lambda_complex.runtime.")
        assert callable(getattr(importlib.import_module(module), function)), handler


def test_images_set_the_cmd_each_function_spec_expects() -> None:
    """The templates override the CMD only where a function runs another handler than its
    image's CMD (the invoker); that CMD is the last the image's Dockerfiles set, the runtime
    base's then its own."""
    app = load.load(ROOT / "lambda-complex.yaml")
    images = Images({name: "x" for name in app.component_names}, "y")
    runtime = dockerfile.runtime_base(dockerfile.read_dockerfile_base())
    chains = {
        "coordinator": runtime + dockerfile.coordinator("RUNTIME", "c.json"),
        **{name: runtime + dockerfile.component("D", "R", True, "c.json")
           for name in app.component_names},
    }
    specs = function_specs.function_specs(app, images)
    for spec in specs:
        cmds = [line for line in chains[spec.image_name].splitlines() if line.startswith("CMD")]
        assert cmds[-1] == f'CMD ["{spec.image_cmd}"]', spec.image_name
    handlers = {spec.key: (spec.handler, spec.command) for spec in specs}
    assert handlers["invoker"] == (entrypoints.INVOKER_HANDLER, (entrypoints.INVOKER_HANDLER,))
    assert handlers["coordinator"] == (entrypoints.COORDINATOR_HANDLER, ())
    assert handlers["render"] == (entrypoints.WRAPPER_HANDLER, ())
