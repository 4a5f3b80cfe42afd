"""What makes a local deploy quick without changing what it deploys: each template rendered
once per sceptre run (a changed input renders anew), the preflight's account checks skipped
against the emulator (the template sizes still checked), botocore's data loaded once per
process for every session (the emulator's launcher and the local sceptre)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import boto3

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common, render
from lambda_complex.builder.cfn.images import Images
from lambda_complex.builder.deploy import doctor
from lambda_complex.builder.local.aws.emulator_server import serve
from lambda_complex.builder.sceptre import rendered
from tests.stacks.conftest import fake_images
from tests.stacks.test_doctor import _big_app


def test_a_template_is_rendered_once_for_the_same_inputs(example_app: App,
                                                         example_images: Images) -> None:
    rendered.forget()
    first = rendered.checked(example_app, common.FUNCTIONS, example_images)
    assert first == render.render_checked(example_app, common.FUNCTIONS, example_images)
    assert rendered.checked(example_app, common.FUNCTIONS, example_images) is first
    # The queues stack has no images: the preflight's call (with) and the handler's (without)
    # are the same rendering.
    queues = rendered.checked(example_app, common.QUEUES, example_images)
    assert rendered.checked(example_app, common.QUEUES) is queues


def test_a_changed_input_misses_the_kept_template(example_app: App,
                                                  example_images: Images) -> None:
    rendered.forget()
    first = rendered.checked(example_app, common.FUNCTIONS, example_images)
    other_image = dataclasses.replace(example_images, components={
        **example_images.components, "toc": example_images.components["toc"] + "0"})
    changed = rendered.checked(example_app, common.FUNCTIONS, other_image)
    assert changed != first and example_images.components["toc"] + "0" in changed
    edited = dataclasses.replace(example_app, version="9.9.9")  # another definition
    assert rendered.checked(edited, common.FUNCTIONS, example_images) is not first
    queues = rendered.checked(example_app, common.QUEUES)
    deployed = {"Resources": {}}  # a deployed queues stack: its retiring queues are kept
    assert rendered.checked(example_app, common.QUEUES, deployed=deployed) is not queues


def test_on_the_emulator_only_the_template_sizes_are_checked(tmp_path: Path) -> None:
    app = _big_app(tmp_path, 12)  # a functions template over the inline limit
    # No endpoint answers these credentials: any account check would fail, not be skipped.
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y",
                            region_name=app.deployment.region)
    checks = doctor.deploy_checks(app, session, fake_images(app), None, emulator=True)
    by_name = {c.name: c for c in checks}
    assert not by_name["template sizes"].ok
    assert set(by_name) == {"template sizes", *doctor.ON_EMULATOR}
    assert all(by_name[n].skipped and by_name[n].ok for n in doctor.ON_EMULATOR)
    assert doctor.failures(checks) == [by_name["template sizes"]]


def test_loaders_share_what_they_load() -> None:
    """In a process of its own: the patch changes botocore for the whole process."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import serve, botocore.session\n"
        "def model():\n"
        "    return botocore.session.Session().get_component('data_loader')"
        ".load_service_model('sqs', 'service-2')\n"
        "assert model() is not model()\n"
        "serve.share_loaded_data()\n"
        "assert model() is model() and model()['metadata']['endpointPrefix'] == 'sqs'\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(Path(serve.__file__).parent)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
