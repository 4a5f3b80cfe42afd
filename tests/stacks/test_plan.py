"""Pure plans: the switchover's steps as a table of inputs -> steps, the control parameter, chain
heartbeats; and the build manifest reader."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn.common import QueueSpec
from lambda_complex.builder.deploy import images, preview, switchover_plan
from lambda_complex.builder.deploy.aws import Parameter, parse_template
from lambda_complex.builder.deploy.mappings import MappingState
from lambda_complex.builder.deploy.status import chain_summary
from lambda_complex.builder.deploy.switchover_plan import (
    Counts,
    DeleteInputs,
    DeployedQueue,
    DeployInputs,
)
from lambda_complex.builder.deploy.switchover_steps import (
    CreateQueue,
    DeleteQueue,
    KeepQueue,
    Move,
    OldInvocations,
    Refuse,
    Removal,
    RemoveQueues,
    SetControl,
    SetMappings,
    SkipSwitchover,
    TickSchedule,
    WaitForOldInvocations,
    WaitForQueueNames,
)
from lambda_complex.builder.images import manifest

CONTROL = "/lambda-complex/app/control"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
UPDATED = NOW - timedelta(seconds=5)
BOUNDS = OldInvocations(40, 0)


def deployed(component: str, kind: str, name: str) -> DeployedQueue:
    spec = QueueSpec(component, kind, name)
    return DeployedQueue(spec.logical_id, component, kind, spec.identity, name)


def specs(component: str, earlier: tuple[str, ...] = (), input_: bool = True) -> list[QueueSpec]:
    kinds = (("dlq", "-dlq"), ("input", ""), ("inflight", "-inflight")) if input_ else (
        ("dlq", "-dlq"),)
    return [QueueSpec(component, kind, f"app-{component}{suffix}", earlier)
            for kind, suffix in kinds]


def queues_of(component: str) -> list[DeployedQueue]:
    return [deployed(s.component, s.kind, s.name) for s in specs(component)]


def inputs(desired: list[QueueSpec], old: list[DeployedQueue], *, kept: list[QueueSpec] = (),
           **changes: object) -> DeployInputs:
    """A deployed app: `old` retiring, `kept` deployed and still desired."""
    base = DeployInputs(
        app="app", queues_stack="app-queues", control_parameter=CONTROL, control="running",
        desired=tuple(desired),
        deployed=tuple(old) + tuple(deployed(s.component, s.kind, s.name) for s in kept),
        retiring=tuple(old), bounds=BOUNDS, functions_updated=UPDATED, now=NOW)
    return replace(base, **changes)  # type: ignore[arg-type]


def pause(current: str = "running") -> SetControl:
    return SetControl(CONTROL, current, "deploying")


RESUME = SetControl(CONTROL, "deploying", "running")
TICK = TickSchedule("app-coordinator")  # a finish that resumes ends with it
RENDER = queues_of("render")
RENDER_MOVES = [Move("app-render", "app-Render", 5, "renamed", notify=True),
                Move("app-render-dlq", "app-Render-dlq", 2, "renamed")]
RENDER_REMOVAL = RemoveQueues("app-queues", (
    Removal("app-render-dlq", RENDER[0].logical_id, "drained"),
    Removal("app-render-inflight", RENDER[2].logical_id, "always"),
    Removal("app-render", RENDER[1].logical_id, "drained")))  # by component, then kind
TOC = [deployed("toc", "dlq", "app-toc-dlq"), deployed("toc", "input", "app-toc")]
TOC_REMOVAL = RemoveQueues("app-queues", (Removal("app-toc-dlq", TOC[0].logical_id, "empty"),
                                          Removal("app-toc", TOC[1].logical_id, "drained")))
SINK = specs("sink", earlier=("s3",))
S3 = queues_of("s3")
COUNTS = {"app-render": Counts(4, 1, 0), "app-render-dlq": Counts(2)}
WAIT = WaitForOldInvocations(("app-render-inflight", "app-Render-inflight"), BOUNDS, UPDATED)


def mapping(component: str, state: str) -> MappingState:
    return MappingState(f"uuid-{component}", f"app-{component}", f"app-{component}", state)


ON, OFF = mapping("work", "Enabled"), mapping("work", "Disabled")
NEW = mapping("fresh", "Enabled")  # created (enabled) by this deploy's functions stack


def mappings_off(*seen: MappingState) -> SetMappings:
    return SetMappings(CONTROL, False, seen)


def mappings_on(*seen: MappingState) -> SetMappings:
    return SetMappings(CONTROL, True, seen)


BEGIN = [
    ("a case-only rename pauses, creates the new queues",
     inputs(specs("Render"), RENDER, counts=COUNTS, notify=True),
     [pause(), *(CreateQueue(s.name) for s in specs("Render"))]),
    ("a user's pause survives the deploy",
     inputs(specs("Render"), RENDER, counts=COUNTS, control="paused"),
     [CreateQueue(s.name) for s in specs("Render")]),
    ("a deploy after a crashed one keeps deploying",
     inputs(specs("Render"), [], kept=specs("Render"), control="deploying"), []),
    ("a removed component's queue with messages is refused, and nothing else done",
     inputs(specs("Render"), TOC, kept=specs("Render"), counts={"app-toc": Counts(3)}),
     [Refuse("component 'toc' is removed but its queue app-toc holds 3 message(s): drain it "
             "first, or set LCBUILD_FORCE_REMOVE=1 to move them to its dead-letter queue")]),
    ("forced, it is not refused",
     inputs(specs("Render"), TOC, kept=specs("Render"), counts={"app-toc": Counts(3)},
            force_remove=True), [pause()]),
    ("an empty removed queue needs no force",
     inputs(specs("Render"), TOC, kept=specs("Render")), [pause()]),
    ("a rename without renamed_from is a removal",
     inputs(specs("sink"), S3, counts={"app-s3": Counts(547)}),
     [Refuse("component 's3' is removed but its queue app-s3 holds 547 message(s): drain it "
             "first, or set LCBUILD_FORCE_REMOVE=1 to move them to its dead-letter queue")]),
    ("the first deploy creates every queue and leaves the control to the stack",
     inputs(specs("Render"), [], deployed=None, control=None),
     [CreateQueue(s.name) for s in specs("Render")]),
    ("the pause disables the enabled event source mappings too, after the control value",
     inputs(specs("Render"), [], kept=specs("Render"), mappings=(ON, mapping("b", "Disabling"))),
     [pause(), mappings_off(ON)]),
    ("a user's pause survives and holds for a mapping an earlier deploy created enabled",
     inputs(specs("Render"), [], kept=specs("Render"), control="paused",
            mappings=(OFF, NEW)), [mappings_off(NEW)]),
    ("mappings without a control value (no coordinator stack) are left alone",
     inputs(specs("Render"), [], deployed=None, control=None, mappings=(NEW,)),
     [CreateQueue(s.name) for s in specs("Render")]),
    ("right after a delete it waits out SQS's queue-name cooldown first",
     inputs(specs("Render"), [], deployed=None, control=None,
            queues_deleted_at=NOW - timedelta(seconds=30)),
     [WaitForQueueNames("app-queues", 45.0), *(CreateQueue(s.name) for s in specs("Render"))]),
]

FINISH = [
    ("a rename waits for the old version, moves (notifying for the input queue), removes, "
     "resumes",
     inputs(specs("Render"), RENDER, kept=specs("Render"), notify=True, control="deploying",
            counts={"app-render": Counts(5), "app-render-dlq": Counts(2)}),
     [WAIT, RENDER_MOVES[1], RENDER_MOVES[0], RENDER_REMOVAL, RESUME, TICK]),
    ("without deployment.switchover nobody is notified",
     inputs(specs("Render"), RENDER, kept=specs("Render"), control="deploying",
            counts={"app-render": Counts(5), "app-render-dlq": Counts(2)}),
     [WAIT, RENDER_MOVES[1], replace(RENDER_MOVES[0], notify=False), RENDER_REMOVAL, RESUME, TICK]),
    ("a declared rename moves every queue to the new component",
     inputs(SINK, S3, kept=SINK, control="deploying", bounds=OldInvocations(0, 70)),
     [WaitForOldInvocations(("app-s3-inflight", "app-sink-inflight"), OldInvocations(0, 70),
                            UPDATED),
      Move("app-s3-dlq", "app-sink-dlq", 0, "renamed"), Move("app-s3", "app-sink", 0, "renamed"),
      RemoveQueues("app-queues", tuple(Removal(q.name, q.logical_id,
                                               "always" if q.kind == "inflight" else "drained")
                                       for q in (S3[0], S3[2], S3[1]))), RESUME, TICK]),
    ("a removed component: its messages go to its dead-letter queue, kept while not empty; "
     "nothing is refused any more",
     inputs(specs("Render"), TOC, kept=specs("Render"), counts={"app-toc": Counts(3)},
            control="deploying", bounds=OldInvocations(0, 0)),
     [Move("app-toc", "app-toc-dlq", 3, "component removed"), TOC_REMOVAL, RESUME, TICK]),
    ("no retiring queue: only the resume",
     inputs(specs("Render"), [], kept=specs("Render"), control="deploying"), [RESUME, TICK]),
    ("a user's pause is left alone",
     inputs(specs("Render"), [], kept=specs("Render"), control="paused"), []),
    ("without a functions stack there is no old version to wait for",
     inputs(specs("Render"), TOC, kept=specs("Render"), functions_updated=None),
     [Move("app-toc", "app-toc-dlq", 0, "component removed"), TOC_REMOVAL, TICK]),
    ("the resume enables the mappings the deploy disabled, after the control value",
     inputs(specs("Render"), [], kept=specs("Render"), control="deploying",
            mappings=(OFF, NEW, mapping("old", "Deleting"))), [RESUME, mappings_on(OFF), TICK]),
    ("a user's pause survives the finish: its mappings stay off, a new enabled one goes off",
     inputs(specs("Render"), [], kept=specs("Render"), control="paused", mappings=(OFF, NEW)),
     [mappings_off(NEW)]),
    ("a native component renamed: the wait counts batches in flight in its old and new queue",
     inputs(specs("Render"), RENDER, kept=specs("Render"), control="deploying",
            native=("Render",), counts={"app-render": Counts(5), "app-render-dlq": Counts(2)}),
     [replace(WAIT, batch_queues=("app-Render", "app-render")), RENDER_MOVES[1],
      replace(RENDER_MOVES[0], notify=False), RENDER_REMOVAL, RESUME, TICK]),
    ("a failed stack: nothing switched, dispatching resumed, mappings too",
     inputs(specs("Render"), RENDER, kept=specs("Render"), control="deploying", mappings=(OFF,),
            failed_stacks=("app-functions (UPDATE_ROLLBACK_COMPLETE)",)),
     [SkipSwitchover("not switching over: app-functions (UPDATE_ROLLBACK_COMPLETE); the old "
                     "version keeps running"), RESUME, mappings_on(OFF), TICK]),
    ("a failed stack: nothing switched, dispatching resumed",
     inputs(specs("Render"), RENDER, kept=specs("Render"), control="deploying",
            failed_stacks=("app-functions (UPDATE_ROLLBACK_COMPLETE)",)),
     [SkipSwitchover("not switching over: app-functions (UPDATE_ROLLBACK_COMPLETE); the old "
                     "version keeps running"), RESUME, TICK]),
]


@pytest.mark.parametrize(("case", "given", "steps"), BEGIN, ids=[c[0] for c in BEGIN])
def test_begin(case: str, given: DeployInputs, steps: list[object]) -> None:
    assert list(switchover_plan.plan_begin(given).steps) == steps


@pytest.mark.parametrize(("case", "given", "steps"), FINISH, ids=[c[0] for c in FINISH])
def test_finish(case: str, given: DeployInputs, steps: list[object]) -> None:
    assert list(switchover_plan.plan_finish(given).steps) == steps


def test_the_deploy_plan_is_both_phases_planned_now() -> None:
    given = inputs(specs("Render"), RENDER, counts=COUNTS, notify=True)
    plan = switchover_plan.plan_deploy(given)
    assert list(plan.steps) == [
        pause(), *(CreateQueue(s.name) for s in specs("Render")),
        replace(WAIT, lease_queues=("app-render-inflight",), since=None),  # not updated yet
        RENDER_MOVES[1], RENDER_MOVES[0], RENDER_REMOVAL, RESUME, TICK]
    refused = switchover_plan.plan_deploy(inputs(specs("sink"), S3, counts={"app-s3": Counts(1)}))
    assert [type(s) for s in refused.steps] == [Refuse] and refused.refused


def test_the_plan_as_text_and_json() -> None:
    plan = switchover_plan.plan_deploy(inputs(specs("Render"), RENDER, counts=COUNTS,
                                              notify=True))
    text = preview.format_text(plan).splitlines()
    assert text[0] == "app: the next deploy's steps"
    assert "  pause   dispatching (/lambda-complex/app/control: running -> deploying)" in text
    assert ("  move    app-render -> app-Render (5 message(s); renamed) after "
            "deployment.switchover(old, new)") in text
    assert "  remove  app-render-inflight" in text
    assert text[-2] == "  resume  dispatching (/lambda-complex/app/control: deploying -> running)"
    assert text[-1] == ("  start   the coordinator's schedule now (app-coordinator), not at its "
                        "next minute")
    data = json.loads(json.dumps(preview.as_json(plan)))
    assert [s["step"] for s in data["steps"]] == [
        "set_control", "create", "create", "create", "wait_for_old_invocations", "move", "move",
        "remove", "set_control", "tick_schedule"]
    assert data["steps"][5] == {"step": "move", "source": "app-render-dlq",
                                "target": "app-Render-dlq", "messages": 2, "why": "renamed",
                                "notify": False}
    assert data["refused"] == []
    unchanged = inputs(specs("Render"), [], kept=specs("Render"))
    assert preview.format_text(switchover_plan.plan_deploy(unchanged)).splitlines()[-1] == (
        "  queues  no change")
    first = inputs(specs("Render"), [], deployed=None, control=None)
    assert preview.format_text(switchover_plan.plan_deploy(first)) == (
        "app is not deployed: the first deploy creates 3 queue(s)")
    refused = switchover_plan.plan_deploy(inputs(specs("sink"), S3, counts={"app-s3": Counts(1)}))
    assert preview.format_text(refused).splitlines()[1].startswith(
        "  REFUSED component 's3' is removed")


def test_the_plan_shows_the_mappings_it_flips_and_the_batches_it_waits_for() -> None:
    plan = switchover_plan.plan_deploy(inputs(specs("Render"), RENDER, counts=COUNTS,
                                              mappings=(ON,), native=("Render",)))
    text = preview.format_text(plan).splitlines()
    assert text[2] == "  disable event source mapping app-work <- app-work (Enabled)"
    assert text[-2] == "  enable  event source mapping app-work <- app-work (Disabled)"
    assert "batches in flight in app-Render, app-render)" in next(
        line for line in text if line.startswith("  wait"))
    data = json.loads(json.dumps(preview.as_json(plan)))
    assert data["steps"][1] == {"step": "set_mappings", "parameter": CONTROL, "enabled": False,
                                "mappings": [{"uuid": "uuid-work", "function": "app-work",
                                              "queue": "app-work", "state": "Enabled"}]}
    wait = next(s for s in data["steps"] if s["step"] == "wait_for_old_invocations")
    assert wait["batch_queues"] == ["app-Render", "app-render"]


APP_QUEUES = (*queues_of("render"), *queues_of("toc"),
              deployed("publish", "dlq", "app-publish-dlq"))
DELETE = [
    ("refused while an input queue holds messages",
     DeleteInputs("app", CONTROL, "running", APP_QUEUES, {"app-render": Counts(0, 2, 1)}, False),
     [Refuse("refusing to delete app: queues still hold messages: app-render (3 message(s)); "
             "drain them, or set LCBUILD_FORCE_REMOVE=1 to move them to their dead-letter "
             "queues")]),
    ("forced: pause, then every input queue to its dead-letter queue",
     DeleteInputs("app", CONTROL, "running", APP_QUEUES, {"app-render": Counts(0, 2, 1)}, True),
     [SetControl(CONTROL, "running", "paused"),
      Move("app-render", "app-render-dlq", 3, "application deleted"),
      Move("app-toc", "app-toc-dlq", 0, "application deleted")]),
    ("forced with native components: their mappings are disabled after the control value",
     DeleteInputs("app", CONTROL, "running", APP_QUEUES, {}, True, (ON, OFF)),
     [SetControl(CONTROL, "running", "paused"), mappings_off(ON),
      Move("app-render", "app-render-dlq", 0, "application deleted"),
      Move("app-toc", "app-toc-dlq", 0, "application deleted")]),
    ("empty queues need no force; a paused app stays paused",
     DeleteInputs("app", CONTROL, "paused", APP_QUEUES, {}, False),
     [Move("app-render", "app-render-dlq", 0, "application deleted"),
      Move("app-toc", "app-toc-dlq", 0, "application deleted")]),
]


@pytest.mark.parametrize(("case", "given", "steps"), DELETE, ids=[c[0] for c in DELETE])
def test_delete(case: str, given: DeleteInputs, steps: list[object]) -> None:
    assert list(switchover_plan.plan_delete(given).steps) == steps


def test_after_a_delete_the_empty_retained_queues_go() -> None:
    assert switchover_plan.retained_queues(APP_QUEUES) == [
        "app-render-dlq", "app-toc-dlq", "app-publish-dlq"]
    plan = switchover_plan.plan_after_delete("app", {
        "app-render-dlq": Counts(0), "app-toc-dlq": Counts(1, 1), "app-publish-dlq": None})
    assert list(plan.steps) == [DeleteQueue("app-render-dlq"), KeepQueue("app-toc-dlq", 2)]


@pytest.mark.parametrize(("when", "held", "removable"), [
    ("always", Counts(3, 1), True),  # lease tokens are never moved
    ("drained", Counts(), True),
    ("drained", Counts(delayed=1), False),  # arrived after the drain: kept for the next deploy
    ("empty", Counts(not_visible=1), False),
    ("empty", None, True),  # gone already
])
def test_removal_after_the_moves(when: str, held: Counts | None, removable: bool) -> None:
    assert switchover_plan.removable(Removal("q", "Q", when), held) is removable


def test_removing_queues_from_the_template_changes_nothing_else() -> None:
    template = {"Outputs": {"X": 1}, "Resources": {"A": {"Type": "q"}, "B": {"Type": "q"}}}
    assert switchover_plan.template_without(template, ["B"]) == {
        "Outputs": {"X": 1}, "Resources": {"A": {"Type": "q"}}}


@pytest.mark.parametrize(("bounds", "waited", "running", "ended"), [
    (OldInvocations(40, 0), 1, 0, True),  # no lease taken: nothing counted runs
    (OldInvocations(40, 0), 1, 2, False),
    (OldInvocations(40, 0), 40, 2, True),  # the longest timeout has passed
    (OldInvocations(40, 55), 41, 0, False),  # uncounted invocations are waited out
    (OldInvocations(40, 55), 55, 0, True),
])
def test_old_invocations_ended(bounds: OldInvocations, waited: float, running: int,
                               ended: bool) -> None:
    assert switchover_plan.old_invocations_ended(bounds, waited, running) is ended


def test_control_parameter_transitions() -> None:
    plan = switchover_plan
    assert plan.control_before_deploy("running") == plan.DEPLOYING
    assert plan.control_before_deploy("paused") is None  # the user's pause survives the deploy
    assert plan.control_before_deploy(None) is None  # first deploy: the stack creates it
    assert plan.control_after_deploy(plan.DEPLOYING) == "running"
    assert plan.control_after_deploy("paused") is None
    assert plan.stack_failed("UPDATE_ROLLBACK_COMPLETE") and plan.stack_failed("CREATE_FAILED")
    assert not plan.stack_failed("UPDATE_COMPLETE")
    assert plan.failed_in_this_deploy("UPDATE_FAILED", NOW, NOW - timedelta(seconds=1))
    assert not plan.failed_in_this_deploy("UPDATE_FAILED", NOW, NOW + timedelta(seconds=1))
    assert plan.failed_in_this_deploy("CREATE_FAILED", NOW, None)


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
