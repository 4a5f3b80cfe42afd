"""`lcbuild local run` end to end (emulator + real sceptre deploy + local Lambda service +
schedules), its faults, and the pure report accounting."""

from __future__ import annotations

import json
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lambda_complex.builder.cli import cli
from lambda_complex.builder.local.aws import emulator as emulator_mod
from lambda_complex.builder.local.run import files as run_files
from lambda_complex.builder.local.run import live_view as progress
from lambda_complex.builder.local.run import report, testbed, timeline
from lambda_complex.runtime import chains, protocol
from tests.images.conftest import Built

from .conftest import missing_real_part

REPO = Path(__file__).resolve().parents[2]
LIMITS = {"ingest": 2, "render": 3, "search-index": 1, "toc": 2, "publish": 4}
PAGES = ["about", "deploy", "images", "index", "install"]


def _need_emulator() -> None:
    try:
        emulator_mod.find_moto_server()
    except emulator_mod.EmulatorNotFound as e:
        missing_real_part(str(e))


# Pure: the report's accounting.
C = report.Component("work", report.MESSAGE, "app-work", "app-work")
INV = report.Component("sink", report.INVOCATION, "app-sink", None)


def _line(component: str, key: str, outcome: str, reason: str | None = None, *,
          called: bool = True, failed: bool = False) -> dict[str, Any]:
    """A message log line as the wrapper writes it: whether the handler ran, and whether the
    call failed (the handler raised, undiverted), are fields of their own."""
    return protocol.MessageLine(component, "t", key, protocol.Outcome(outcome), 1.0, reason,
                                handler_called=called, failed=failed).to_dict()


DLQS = {"work": "app-work-dlq", "sink": "app-sink-dlq"}


def test_report_counts_calls_from_lines_and_messages_from_the_queues() -> None:
    lines = [
        _line("work", "m1", "succeeded"),
        _line("work", "m2", "failed", "handler raised ValueError: x", failed=True),
        _line("work", "m2", "failed", "handler raised ValueError: x", failed=True),  # then DLQ
        _line("work", "m3", "dead_lettered", "not an envelope: a JSON list", called=False),
        _line("work", "m4", "delete_failed"),
        _line("work", "m4", "succeeded"),  # redelivered, handled again
        _line("work", "m5", "released", called=False),  # handed back, still queued
        _line("sink", "r1", "succeeded"),
        _line("sink", "r2", "failed", "handler raised KeyError: y", failed=True),
    ]
    stats = {"app-work": {"invocations": 3, "max_concurrency_observed": 2},
             "app-sink": {"invocations": 3, "async_accepted": 3, "async_in_flight": 2}}
    depths = {"work": report.Depth(queued=1, dead_lettered=2), "sink": report.Depth(0, 0)}
    # Deleted from work's queue: m1, m4 (done) and m3 (the wrapper sent it to the DLQ first);
    # m2 was moved to the DLQ by SQS; m5 still queued.
    tap = report.Tapped(sent={"app-work": 5, "app-work-dlq": 1}, deleted={"app-work": 3})
    result = report.build([C, INV], stats, lines, depths, tap, 5, DLQS)

    assert result["components"]["work"] == {
        "invocations": 3, "handled": 5, "succeeded": 2, "failed": 2, "dead_lettered": 2,
        "max_concurrency_observed": 2}
    assert result["accounting"]["work"] == {
        "created": 5, "done": 2, "dead_lettered": 2, "redriven": 0, "queued": 1,
        "failed_nudges": 0, "lost": 0, "duplicates": 0}
    assert result["accounting"]["sink"]["lost"] == 0  # r1 done, r2 still retrying, r3 queued
    assert result["totals"] == {"sent": 5, "dead_lettered": 2, "lost": 0}


def test_a_kill_between_delete_and_log_line_is_no_loss() -> None:
    # m1's delete went through, then its worker was killed before the log line: no line at all.
    tap = report.Tapped(sent={"app-work": 1}, deleted={"app-work": 1})
    result = report.build([C], {}, [], {"work": report.Depth(0, 0)}, tap, 1, DLQS)
    assert result["accounting"]["work"]["done"] == 1 and result["totals"]["lost"] == 0


def test_redriven_dead_letters_are_not_new_inputs() -> None:
    # m2 was moved to the DLQ by SQS, redriven (deleted from the DLQ, sent again) and done.
    tap = report.Tapped(sent={"app-work": 3}, deleted={"app-work": 2, "app-work-dlq": 1})
    result = report.build([C], {}, [], {"work": report.Depth(0, 0)}, tap, 2, DLQS)
    assert result["accounting"]["work"]["lost"] == 0
    assert result["accounting"]["work"]["redriven"] == 1


def test_failed_nudge_records_are_not_dead_messages_and_hide_no_loss() -> None:
    # One message deleted without being accounted for, one Lambda record of a failed nudge in the
    # DLQ: the record must not stand in for the missing message.
    stats = {"app-work": {"dead_lettered": 1}}
    tap = report.Tapped(sent={"app-work": 2}, deleted={"app-work": 1})
    result = report.build([C], stats, [], {"work": report.Depth(0, 1)}, tap, 2, DLQS)
    assert result["accounting"]["work"]["failed_nudges"] == 1
    assert result["accounting"]["work"]["dead_lettered"] == 0
    assert result["totals"]["lost"] == 1


def test_report_finds_a_message_deleted_without_being_accounted_for() -> None:
    tap = report.Tapped(sent={"app-work": 3}, deleted={"app-work": 1})
    result = report.build([C], {}, [], {"work": report.Depth(0, 0)}, tap, 3, DLQS)
    assert result["totals"]["lost"] == 2
    dropped = report.build([INV], {"app-sink": {"async_accepted": 1, "dropped": 1}}, [],
                           {"sink": report.Depth(0, 0)}, report.Tapped({}, {}), 0, DLQS)
    assert dropped["totals"]["lost"] == 1


def test_progress_rows_and_plain_lines() -> None:
    lines = [_line("work", "m1", "succeeded"),
             _line("work", "m2", "failed", "handler raised", failed=True)]
    stats = {"app-sink": {"concurrency": 1, "async_in_flight": 3}}
    rows = progress.rows([C, INV], {"work": (4, 2)}, stats, lines)
    assert rows == [progress.Row("work", 4, 2, 1, 1), progress.Row("sink", 2, 1, 0, 0)]
    assert progress.plain(rows[0]) == "work: queued 4, in flight 2, done 1, failed 1"


# The example application, through the command line, in process mode.
def test_example_app_end_to_end_in_process_mode(tmp_path: Path) -> None:
    _need_emulator()
    report_file = tmp_path / "report.json"
    result = CliRunner().invoke(cli, [
        "local", "run", "--app", str(REPO / "lambda-complex.yaml"), "--mode", "process",
        "--send", f"ingest=@{REPO / 'examples/sitegen/site.json'}", "--until-idle",
        "--timeout", "120", "--report", str(report_file)])

    assert result.exit_code == 0, result.output
    for page in PAGES:
        assert f"  demo/{page}.html" in result.output
    assert "  demo/search.json" in result.output
    got = json.loads(report_file.read_text())
    handled = {name: c["handled"] for name, c in got["components"].items()}
    assert handled == {"ingest": 1, "render": 4, "publish": 5, "toc": 1, "search-index": 4}
    for name, c in got["components"].items():
        assert c["succeeded"] == c["handled"] and c["failed"] == 0 and c["dead_lettered"] == 0
        assert 1 <= c["max_concurrency_observed"] <= LIMITS[name]
    assert got["totals"] == {"sent": 1, "dead_lettered": 0, "lost": 0}
    assert not run_files.endpoint_path(REPO).exists()  # removed at stop

    # The one input, followed through every component by its trace id (from the run's logs).
    lines = run_files.LogTail(REPO / run_files.LOCAL_DIR / "logs").poll()
    (trace_id,) = {x["trace_id"] for x in lines if x.get("component") == "ingest"
                   and x.get("event") == "message"}
    traced = CliRunner().invoke(cli, ["trace", trace_id, "--local", "--json", "--app",
                                      str(REPO / "lambda-complex.yaml")])
    assert traced.exit_code == 0, traced.output
    steps = json.loads(traced.output)
    assert [s["component"] for s in steps][:1] == ["ingest"] and steps[0]["hops"] == 0
    assert Counter(s["component"] for s in steps) == Counter(handled)
    assert [s["hops"] for s in steps] == sorted(s["hops"] for s in steps)
    assert {s["outcome"] for s in steps} == {"succeeded"}


def test_example_app_end_to_end_in_container_mode(tmp_path: Path, built: Built) -> None:
    """The images `lcbuild images` built (session fixture: the stand-in Lambda base, the real
    awslambdaric inside), run read-only by the local Lambda service."""
    report_file = tmp_path / "report.json"
    result = CliRunner().invoke(cli, [
        "local", "run", "--app", str(built.app_file), "--mode", "container",
        "--send", f"ingest=@{REPO / 'examples/sitegen/site.json'}", "--until-idle",
        "--timeout", "150", "--report", str(report_file)])
    assert result.exit_code == 0, result.output
    got = json.loads(report_file.read_text())
    assert {n: c["handled"] for n, c in got["components"].items()} == {
        "ingest": 1, "render": 4, "publish": 5, "toc": 1, "search-index": 4}
    for name, c in got["components"].items():
        assert 1 <= c["max_concurrency_observed"] <= LIMITS[name]
    assert got["totals"]["lost"] == 0
    for page in PAGES:
        assert f"demo/{page}.html" in result.output


# Faults, on a small application in tmp_path (fast: 1 s coordinator interval, short timeouts).
FAULT_APP = """\
name: faults
version: 0.1.0
deployment: {region: eu-west-1, registry: ecr}
coordinator: {concurrency: 1, min_interval: 1, timeout: 20}
components:
  - name: work
    type: event_from_message
    max_concurrency: 3
    queue_wait_time: 0
    batch_size: 1
    max_receive_count: 2
    visibility_timeout: 4
    lambda: {path: code, handler: fns.work, timeout: 4, environment: {FIXED: "{fixed}"}}
  - name: notify
    type: event_from_invocation
    max_concurrency: 2
    lambda: {path: code, handler: fns.notify, timeout: 4, environment: {FIXED: "{fixed}"}}
"""
FAULT_CODE = """\
import os
import time

def work(event, context):
    if event.get("n", 1) % 10 == 0 and not os.path.exists(os.environ["FIXED"]):
        raise ValueError(f"input {event['n']} is bad")
    time.sleep(event.get("sleep", 0))

def notify(event, context):
    if not os.path.exists(os.environ["FIXED"]):
        raise ValueError("notify is broken")
"""


@pytest.fixture(scope="module")
def faults_bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testbed.Testbed]:
    """One run for the fault tests (starting it costs a deploy): each test counts what it
    changed, from the report before and after, never what earlier tests left."""
    _need_emulator()
    root = tmp_path_factory.mktemp("faults")
    (root / "lambda-complex.yaml").write_text(FAULT_APP.replace("{fixed}", str(root / "fixed")))
    (root / "code").mkdir()
    (root / "code" / "fns.py").write_text(textwrap.dedent(FAULT_CODE))
    (root / "code" / "requirements.txt").write_text("")
    with testbed.Testbed(root / "lambda-complex.yaml", "process", time_scale=0.05,
                 service_options={"retry_delays": (0.2, 0.2)}) as bed:
        yield bed


@pytest.fixture
def faults(faults_bed: testbed.Testbed) -> Iterator[testbed.Testbed]:
    """The run, idle and running, with its handlers broken again (no `fixed` file), whatever
    test ran before."""
    fixed = faults_bed.app.root / "fixed"
    fixed.unlink(missing_ok=True)
    assert faults_bed.wait_idle(30)
    yield faults_bed
    fixed.unlink(missing_ok=True)
    CliRunner().invoke(cli, ["resume", "--local", "--app", str(faults_bed.app.source)])


def test_the_start_overlaps_what_does_not_wait_for_the_deploy(faults_bed: testbed.Testbed) -> None:
    """The run's own timeline: sceptre was started before the emulator answered (its imports
    overlap the emulator's start), the Lambda service before sceptre finished; the deployed
    functions and the schedules came after the deploy."""
    phases = {p.name: p for p in faults_bed.timeline.phases}
    deploy, service = phases[timeline.DEPLOY], phases[timeline.SERVICE]
    assert deploy.start < phases[timeline.EMULATOR].end, phases
    assert phases[timeline.IDENTITIES].end <= service.start < deploy.end, phases
    assert deploy.end <= phases[timeline.FUNCTIONS].start <= phases[timeline.SCHEDULES].start
    assert timeline.summary(list(phases.values())).startswith("emulator ")


def test_failing_inputs_end_dead_lettered_and_the_rest_is_processed(
    faults: testbed.Testbed,
) -> None:
    before = faults.report()["components"]["work"]
    faults.send_many("work", [{"n": n} for n in range(1, 21)])
    assert faults.wait_idle(60)
    got = faults.report()
    work = got["components"]["work"]
    added = {k: work[k] - before[k] for k in ("dead_lettered", "failed", "succeeded")}
    # n = 10, 20 fail: dead-lettered after max_receive_count (2) attempts each.
    assert added == {"dead_lettered": 2, "failed": 4, "succeeded": 18}
    assert 1 <= work["max_concurrency_observed"] <= 3
    assert got["totals"]["lost"] == 0


def test_a_worker_killed_mid_invocation_has_its_message_redelivered(
    faults: testbed.Testbed,
) -> None:
    before = faults.report()["components"]["work"]["succeeded"]
    faults.send("work", {"n": 1, "sleep": 2})
    deadline = time.monotonic() + 20
    killed = 0
    while not killed and time.monotonic() < deadline:
        if faults.stats()["faults-work"]["concurrency"] > 0:
            time.sleep(0.5)  # inside the handler's sleep
            killed = faults.service.kill_running("faults-work")  # type: ignore[union-attr]
        time.sleep(0.05)
    assert killed == 1
    assert faults.wait_idle(40)
    got = faults.report()
    assert got["components"]["work"]["succeeded"] == before + 1
    assert got["totals"]["lost"] == 0


# The bound is the claim here (how soon dispatch resumes), so the whole test is a timing test.
@pytest.mark.timing
def test_a_killed_coordinator_chain_is_replaced_within_the_documented_bound(
    faults: testbed.Testbed,
) -> None:
    """chains.replaced_within_s: stale after min_interval + slack, then the next schedule tick
    (every 3 s here: the testbed's schedules run at time_scale 0.05)."""
    assert faults.service is not None
    deadline = time.monotonic() + 10
    while not faults.service.kill_running("faults-coordinator"):
        assert time.monotonic() < deadline, "no coordinator generation ever ran"
        time.sleep(0.1)
    killed_at = time.monotonic()
    before = faults.report()["components"]["work"]["succeeded"]
    faults.send_many("work", [{"n": 1}, {"n": 2}])
    bound = chains.stale_after_s(faults.app.coordinator.min_interval) + \
        chains.SCHEDULE_PERIOD_S * faults.time_scale
    while faults.report()["components"]["work"]["succeeded"] < before + 2:
        assert time.monotonic() - killed_at < bound + 5, f"dispatch did not resume in {bound} s"
        time.sleep(0.2)
    print(f"\nchain killed: dispatch resumed after {time.monotonic() - killed_at:.1f} s "
          f"(bound {bound:.0f} s at this time scale)")
    assert faults.report()["totals"]["lost"] == 0


def test_status_pause_and_resume_against_the_running_testbed(faults: testbed.Testbed) -> None:
    app_file = str(faults.app.source)
    runner = CliRunner()

    def status() -> dict[str, Any]:
        shown = runner.invoke(cli, ["status", "--local", "--json", "--app", app_file])
        assert shown.exit_code == 0, shown.output
        got: dict[str, Any] = json.loads(shown.output)
        return got

    # A lease of an invocation an earlier test killed counts as in flight until it expires
    # (timeout + LEASE_MARGIN_S): that is what status must show, so wait it out.
    deadline = time.monotonic() + 60
    idle = status()
    while idle["components"][0]["in_flight"] and time.monotonic() < deadline:
        time.sleep(1)
        idle = status()
    dead = {c: n["dead_lettered"] for c, n in faults.report()["components"].items()}
    assert (idle["app"], idle["control"], idle["chains_wanted"]) == ("faults", "running", 1)
    assert set(idle["stacks"]) and all(s.endswith("_COMPLETE") for s in idle["stacks"].values())
    assert idle["components"] == [
        {"name": "work", "type": "event_from_message", "queued": 0, "in_flight": 0,
         "dead_lettered": dead["work"], "limit": 3, "dispatch": "push", "mapping": None},
        {"name": "notify", "type": "event_from_invocation", "queued": None, "in_flight": None,
         "dead_lettered": dead["notify"], "limit": 2, "dispatch": None, "mapping": None},
    ]
    paused = runner.invoke(cli, ["pause", "--local", "--app", app_file])
    assert (paused.exit_code, paused.output) == (0, "faults: running -> paused\n")
    assert status()["control"] == "paused"
    resumed = runner.invoke(cli, ["resume", "--local", "--app", app_file])
    assert (resumed.exit_code, resumed.output) == (0, "faults: paused -> running\n")
    assert status()["control"] == "running"
    assert faults.report()["totals"]["lost"] == 0


def test_status_local_without_a_run_is_a_clear_error(tmp_path: Path) -> None:
    from lambda_complex.builder.scaffold import create

    create(tmp_path / "app")
    result = CliRunner().invoke(cli, ["status", "--local", "--app",
                                      str(tmp_path / "app" / "lambda-complex.yaml")])
    assert result.exit_code == 1
    assert "no `lcbuild local run` is running" in result.output


def test_redrive_puts_dead_letters_back_to_work_once_fixed(faults: testbed.Testbed) -> None:
    """Two bad inputs of work end in its dead-letter queue; notify fails until fixed, so its
    event ends as Lambda's on-failure record. Fixed, all are redriven and done."""
    earlier = faults.report()["components"]
    faults.send_many("work", [{"n": 10}, {"n": 20}])
    faults.send("notify", {"to": "ops"})
    assert faults.wait_idle(30)
    before = faults.report()["components"]
    dead = {c: before[c]["dead_lettered"] for c in ("work", "notify")}
    added = {c: dead[c] - earlier[c]["dead_lettered"] for c in dead}
    assert added == {"work": 2, "notify": 1}, dead
    (faults.app.root / "fixed").touch()
    app_file = str(faults.app.source)
    runner = CliRunner()
    limited = runner.invoke(cli, ["redrive", "work", "--limit", "1", "--local", "--app", app_file])
    assert limited.exit_code == 0, limited.output
    assert f"1 dead letter(s) from faults-work-dlq to faults-work; {dead['work'] - 1} left" in (
        limited.output)
    rest = runner.invoke(cli, ["redrive", "work", "--json", "--local", "--app", app_file])
    assert json.loads(rest.output)["moved"] == dead["work"] - 1, rest.output
    again = runner.invoke(cli, ["redrive", "notify", "--json", "--local", "--app", app_file])
    assert json.loads(again.output) == {"component": "notify", "source": "faults-notify-dlq",
                                        "target": "faults-notify", "moved": dead["notify"],
                                        "left": 0, "skipped": 0}
    assert faults.wait_idle(30)
    after = faults.report()
    assert {c: after["components"][c]["dead_lettered"] for c in dead} == {"work": 0, "notify": 0}
    assert after["components"]["work"]["succeeded"] == before["work"]["succeeded"] + dead["work"]
    assert after["components"]["notify"]["succeeded"] == (
        before["notify"]["succeeded"] + dead["notify"])
    assert after["totals"]["lost"] == 0, after["accounting"]


def test_redrive_names_what_is_wrong(faults: testbed.Testbed) -> None:
    result = CliRunner().invoke(cli, ["redrive", "nope", "--local", "--app",
                                      str(faults.app.source)])
    assert result.exit_code == 1
    assert "no component 'nope' in faults (components: work, notify)" in result.output
    assert "Traceback" not in result.output
