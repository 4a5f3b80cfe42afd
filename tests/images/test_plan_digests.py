"""Which digest each planned image records, decided by the planner from plain data: the
registry's, or a previous build's of the same content; never one of other content."""

from __future__ import annotations

from typing import Any

from lambda_complex.builder.images import decisions
from lambda_complex.builder.images.decisions import Action, Facts, ImageSpec

INPUTS = {"base": "b", "runtime": "r", "dependencies": "d", "dockerfile": "f", "code": "c",
          "config": "g", "platform": "linux/amd64", "build": "x"}
PUSHED = "sha256:" + "1" * 64
IN_REGISTRY = "sha256:" + "2" * 64


def spec(**changes: str) -> ImageSpec:
    return ImageSpec("render", "lambda-complex/sitegen/render", "127.0.0.1:5000/sitegen/render",
                     "linux/amd64", {**INPUTS, **changes})


def previous(of: ImageSpec, digest: str | None = PUSHED) -> dict[str, Any]:
    return {"content_hash": of.content_hash, "digest": digest, "inputs": dict(of.inputs)}


def test_a_local_build_of_content_pushed_before_keeps_its_digest() -> None:
    built = decisions.decide(spec(), Facts(), previous(spec()), push=False)
    assert (built.action, built.digest) == (Action.BUILD, PUSHED)
    kept = decisions.decide(spec(), Facts(local_image_id="sha256:9"), previous(spec()), False)
    assert (kept.action, kept.digest) == (Action.SKIP, PUSHED)


def test_other_content_never_inherits_a_digest() -> None:
    changed = decisions.decide(spec(code="new"), Facts(), previous(spec()), push=False)
    assert (changed.action, changed.digest) == (Action.BUILD, None)
    assert decisions.decide(spec(), Facts(), None, push=False).digest is None
    unpushed = decisions.decide(spec(), Facts(), previous(spec(), digest=None), push=False)
    assert unpushed.digest is None


def test_the_registry_digest_wins_and_a_push_records_its_own() -> None:
    facts = Facts(registry_digest=IN_REGISTRY)
    assert decisions.known_digest(spec(), facts, previous(spec())) == IN_REGISTRY
    skipped = decisions.decide(spec(), facts, previous(spec()), push=True)
    assert (skipped.action, skipped.digest) == (Action.SKIP, IN_REGISTRY)
    # Pushing now: the digest is the push's, not a stale record of the same content.
    pushing = decisions.decide(spec(), Facts(local_image_id="sha256:9"), previous(spec()), True)
    assert (pushing.action, pushing.digest) == (Action.PUSH, None)
    building = decisions.decide(spec(), Facts(), previous(spec()), push=True)
    assert (building.action, building.digest) == (Action.BUILD, None)


def test_make_plan_decides_the_digest_per_image() -> None:
    render, toc = spec(), ImageSpec("toc", "lambda-complex/sitegen/toc", None, "linux/amd64",
                                    {**INPUTS, "code": "toc"})
    plan = decisions.make_plan([render, toc], {}, {"render": previous(render),
                                                   "toc": previous(render)}, push=False)
    assert [p.digest for p in plan.images] == [PUSHED, None]
