"""Pure plans: switchover, control parameter, chain heartbeats; and the build manifest reader."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn.common import QueueSpec
from lambda_complex.builder.deploy import images
from lambda_complex.builder.deploy import switchover_plan as plan
from lambda_complex.builder.deploy.aws import Parameter, parse_template
from lambda_complex.builder.deploy.status import chain_summary
from lambda_complex.builder.deploy.switchover_plan import Counts, DeployedQueue
from lambda_complex.builder.images import manifest


def deployed(component: str, kind: str, name: str) -> DeployedQueue:
    spec = QueueSpec(component, kind, name)
    return DeployedQueue(spec.logical_id, component, kind, spec.identity, name)


DESIRED = [QueueSpec("Render", "input", "app-Render"), QueueSpec("Render", "dlq", "app-Render-dlq"),
           QueueSpec("Render", "inflight", "app-Render-inflight")]


def test_replaced_queues_move_to_their_successor() -> None:
    old = [deployed("render", "input", "app-render"), deployed("render", "dlq", "app-render-dlq"),
           deployed("render", "inflight", "app-render-inflight")]
    p = plan.plan_switchover(old, DESIRED, {"app-render": Counts(5, 1, 0)}, force_remove=False)
    assert not p.refusals
    assert {(m.source.name, m.target, m.replaced) for m in p.moves} == {
        ("app-render", "app-Render", True), ("app-render-dlq", "app-Render-dlq", True)}
    assert {q.name for q in p.remove} == {"app-render", "app-render-dlq", "app-render-inflight"}


def test_a_declared_rename_moves_every_queue_to_the_new_component() -> None:
    old = [deployed("s3", "input", "app-s3"), deployed("s3", "dlq", "app-s3-dlq"),
           deployed("s3", "inflight", "app-s3-inflight")]
    sink = [QueueSpec("sink", kind, f"app-sink{suffix}", ("s3",))
            for kind, suffix in (("input", ""), ("dlq", "-dlq"), ("inflight", "-inflight"))]
    counts = {"app-s3": Counts(547, 3, 0), "app-s3-dlq": Counts(2)}
    p = plan.plan_switchover(old, sink, counts, force_remove=False)
    assert not p.refusals  # a rename with messages is no removal
    assert {(m.source.name, m.target, m.replaced) for m in p.moves} == {
        ("app-s3", "app-sink", True), ("app-s3-dlq", "app-sink-dlq", True)}
    assert {q.name for q in p.remove} == {"app-s3", "app-s3-dlq", "app-s3-inflight"}
    undeclared = plan.plan_switchover(old, [QueueSpec("sink", "input", "app-sink")], counts,
                                      force_remove=False)
    assert undeclared.refusals  # without renamed_from it is a removal, refused while it holds


def test_removing_a_component_with_messages_is_refused_unless_forced() -> None:
    old = [deployed("toc", "input", "app-toc"), deployed("toc", "dlq", "app-toc-dlq")]
    counts = {"app-toc": Counts(visible=3)}
    refused = plan.plan_switchover(old, DESIRED, counts, force_remove=False)
    assert refused.refusals and "app-toc holds 3 message(s)" in refused.refusals[0]
    forced = plan.plan_switchover(old, DESIRED, counts, force_remove=True)
    assert not forced.refusals
    assert [(m.source.name, m.target) for m in forced.moves] == [("app-toc", "app-toc-dlq")]
    assert [q.name for q in forced.remove_if_empty] == ["app-toc-dlq"]  # dead letters are kept
    empty = plan.plan_switchover(old, DESIRED, {}, force_remove=False)
    assert not empty.refusals


def test_control_parameter_transitions() -> None:
    assert plan.control_before_deploy("running") == plan.DEPLOYING
    assert plan.control_before_deploy("paused") is None  # the user's pause survives the deploy
    assert plan.control_before_deploy(None) is None  # first deploy: the stack creates it
    assert plan.control_after_deploy(plan.DEPLOYING) == "running"
    assert plan.control_after_deploy("paused") is None
    assert plan.stack_failed("UPDATE_ROLLBACK_COMPLETE") and plan.stack_failed("CREATE_FAILED")
    assert not plan.stack_failed("UPDATE_COMPLETE")


def test_chains_alive_from_fresh_heartbeats(example_app: App) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    beats = [Parameter("/lambda-complex/sitegen/chains/0", "x", now - timedelta(seconds=20)),
             Parameter("/lambda-complex/sitegen/chains/1", "x", now - timedelta(hours=1)),
             Parameter("/lambda-complex/sitegen/control", "running", now)]
    alive, last = chain_summary(example_app, beats, now)
    assert alive == 1
    assert last == (now - timedelta(seconds=20)).isoformat()
    assert chain_summary(example_app, [], now) == (0, None)


def test_parse_template_as_returned_after_sceptre() -> None:
    assert parse_template('---\n{"Resources": {}}') == {"Resources": {}}
    assert parse_template({"Resources": {}}) == {"Resources": {}}


def test_manifest_reader(tmp_path: Path, example_app: App) -> None:
    path = tmp_path / "images.json"
    with pytest.raises(images.ManifestError, match=r"does not exist.*lcbuild images"):
        images.read(path, example_app)
    digest = "sha256:" + "cd" * 32

    def entry(name: str, pushed: bool = True) -> dict[str, object]:
        return manifest.entry(repository=f"127.0.0.1:5000/sitegen/{name}", tag="abc",
                              digest=digest if pushed else None, image_id="sha256:ef",
                              content_hash="h", platform="linux/amd64", inputs={})

    manifest.write(path, "sitegen", {"ingest": entry("ingest"), "render": entry("render"),
                                     "toc": entry("toc", pushed=False),
                                     "coordinator": entry("coordinator")})
    with pytest.raises(images.ManifestError) as e:
        images.read(path, example_app)
    message = str(e.value)
    assert "no image for 'search-index'" in message and "no image for 'publish'" in message
    assert "'toc' was built but not pushed" in message
    assert images.component_image(path, "render") == f"127.0.0.1:5000/sitegen/render@{digest}"
    assert images.component_image(path, "coordinator") == (
        f"127.0.0.1:5000/sitegen/coordinator@{digest}")
    with pytest.raises(images.ManifestError, match="no image for 'publish'"):
        images.component_image(path, "publish")
    manifest.write(path, "othergen", {"ingest": entry("ingest")})
    with pytest.raises(images.ManifestError, match="built for application 'othergen'"):
        images.read(path, example_app)
    path.write_text(json.dumps({"components": {}}))
    with pytest.raises(images.ManifestError, match="not a build manifest"):
        images.component_image(path, "toc")
