"""The live table: the pure drawing (rows -> lines for a width, truncation, colour, redraw), the
screen on a real pseudo terminal, and `lcbuild status --watch` run in one against the emulator
with an application deployed, refreshed, then stopped by Ctrl-C (SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import boto3
import pytest

from lambda_complex.builder import api
from lambda_complex.builder.cfn import common, render
from lambda_complex.builder.deploy.status import ComponentStatus, Status
from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.builder.local.run import live_table, live_view
from lambda_complex.builder.local.run.live_table import Cell, Column
from lambda_complex.runtime import names, protocol
from tests.stacks.conftest import fake_images
from tests.terminal import CLEAR, HIDE, SGR, SHOW, frames, open_terminal, read_until, start_on

ROWS = [live_view.LiveRow("ingest", 0, 1, 2, 3, 0, 0, None),
        live_view.LiveRow("render", 12, 3, 3, 40, 2, 1, "handler raised ValueError: no\ntitle")]


# The drawing: pure.
def test_run_table_exact_text_at_a_width() -> None:
    assert live_view.run_lines("sitegen", "process", 75, 0, ROWS, 100, color=False) == [
        "sitegen  local run (process mode)  elapsed 1:15  lost 0",
        "component  queued  in flight  done  failed  dead-lettered  last error",
        "ingest          0        1/2     3       0              0",
        "render         12        3/3    40       2              1  handler raised ValueError: no "
        "title",
    ]


def test_what_runs_over_the_width_is_cut_with_an_ellipsis() -> None:
    lines = live_view.run_lines("sitegen", "container", 3725, 0, ROWS, 70, color=False)
    assert lines[0] == "sitegen  local run (container mode)  elapsed 1:02:05  lost 0"
    assert lines[3] == "render         12        3/3    40       2              1  handler ra…"
    assert all(len(x) <= 70 for x in lines)
    narrow = live_view.run_lines("sitegen", "process", 5, 0, ROWS, 24, color=False)
    assert narrow[2] == "ingest          0      …" and all(len(x) <= 24 for x in narrow)


def test_colour_marks_failures_and_no_color_leaves_plain_text() -> None:
    painted = live_view.run_lines("sitegen", "process", 1, 2, ROWS, 100, color=True)
    assert "\x1b[31mlost 2\x1b[0m" in painted[0]
    assert "\x1b[31m2\x1b[0m" in painted[3] and "\x1b[33m1\x1b[0m" in painted[3]
    assert [SGR.sub("", x) for x in painted] == live_view.run_lines(
        "sitegen", "process", 1, 2, ROWS, 100, color=False)
    assert not live_table.use_color({"NO_COLOR": "1"})
    assert live_table.use_color({"NO_COLOR": ""}) and live_table.use_color({})
    assert not live_table.is_live(True, {"TERM": "dumb"})
    assert live_table.is_live(True, {"TERM": "xterm"}) and not live_table.is_live(False, {})


def test_cells_are_made_one_printable_line() -> None:
    lines = live_table.table([Column("name"), Column("n", right=True), Column("why")],
                             [[Cell("a"), Cell("7"), Cell("bad\x1b[2J\n\tinput")]], 40, False)
    assert lines == ["name  n  why", "a     7  bad [2J input"]


def test_redraw_goes_back_over_the_block_drawn_before() -> None:
    assert live_table.redraw(0, ["a", "b"]) == f"\r{CLEAR}a\nb\n"
    assert live_table.redraw(2, ["c"]) == f"\r\x1b[2A{CLEAR}c\n"
    # a block taller than the screen could not be gone back over: it is clipped
    assert live_table.clip(["1", "2", "3"], 4) == ["1", "2", "3"]
    assert live_table.clip(["1", "2", "3", "4", "5"], 4) == ["1", "2", "… 3 more"]


def test_rows_of_a_run_carry_limits_dead_letters_and_the_last_error() -> None:
    from lambda_complex.builder.local.run import report

    work = report.Component("work", report.MESSAGE, "app-work", "app-work")
    sink = report.Component("sink", report.INVOCATION, "app-sink", None)
    lines = [protocol.MessageLine("work", "t", m, protocol.Outcome(o), 1.0, why).to_dict()
             for m, o, why in [("m1", "failed", "handler raised KeyError: a"),
                               ("m2", "succeeded", None),
                               ("m3", "dead_lettered", "not an envelope"),
                               ("m4", "released", None)]]
    stats = {"app-work": {"concurrency": 1}, "app-sink": {"concurrency": 2, "async_in_flight": 5}}
    found = live_view.live_rows([work, sink], {"work": (4, 2)}, stats, lines,
                                {"work": 3, "sink": 2}, {"work": 1})
    # in flight: executions running (beside the limit), not messages received
    assert found == [live_view.LiveRow("work", 4, 1, 3, 1, 2, 1, "not an envelope"),
                     live_view.LiveRow("sink", 3, 2, 2, 0, 0, 0, None)]
    # the plain lines of a run that is no terminal stay as they were: messages in flight
    plain = live_view.rows([work], {"work": (4, 2)}, stats, lines)
    assert live_view.plain(plain[0]) == "work: queued 4, in flight 2, done 1, failed 2"


def test_status_table_shows_every_field_of_a_component() -> None:
    status = Status("sitegen", "running", {"sitegen-queues": "CREATE_COMPLETE",
                                           "sitegen-functions": None},
                    [ComponentStatus("ingest", "event_from_message", 3, 1, 0, 2),
                     ComponentStatus("toc", "event_from_invocation", None, None, 2, 2)],
                    1, 1, None)
    lines = live_view.status_lines(status, 120, False, datetime(2026, 1, 2, 3, 4, 5), 2.0)
    assert lines[:3] == [
        "sitegen: running  coordinator chains 1/1, last run never",
        "stacks: sitegen-queues CREATE_COMPLETE, sitegen-functions absent",
        "refreshed 03:04:05, every 2 s; Ctrl-C stops"]
    title, ingest, toc = (x.split() for x in lines[3:])
    assert title[:6] == ["component", "type", "queued", "in", "flight", "dead-lettered"]
    assert ingest[:5] == ["ingest", "event_from_message", "3", "1/2", "0"]
    assert toc[:5] == ["toc", "event_from_invocation", "-", "-/2", "2"]
    fields = [f for f in ComponentStatus.__dataclass_fields__ if f not in {"name", "limit"}]
    assert len(ingest) == len(fields) + 1  # a column for each field (in flight with the limit)


# The screen, on a real pseudo terminal.
def test_screen_redraws_in_place_and_prints_what_others_write_above(
        monkeypatch: pytest.MonkeyPatch) -> None:
    master, slave = open_terminal(60)
    stream = os.fdopen(slave, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        screen = live_table.Screen(stream, color=False)
        assert screen.width() == 59
        screen.draw(["one", "two"])
        print("a warning", file=sys.stderr)  # through the stand-in: above the block
        screen.draw(["three"])
        screen.close()
        assert sys.stderr is stream
        out = read_until(master, lambda text: SHOW in text, 5)
    finally:
        stream.close()
        os.close(master)
    assert out == (f"{HIDE}\r{CLEAR}one\r\ntwo\r\n\r\x1b[2A{CLEAR}a warning\r\none\r\ntwo\r\n"
                   f"\r\x1b[2A{CLEAR}three\r\n{SHOW}")


# `lcbuild status --watch` in a pseudo terminal, against the emulator.
@pytest.fixture
def deployed(aws: Emulator, tmp_path: Path) -> Iterator[api.App]:
    """A one-component application (`lcbuild init`'s), its three stacks created in the emulator
    from their rendered templates (CloudFormation directly: Sceptre's status polls would cost
    seconds per stack; tests/stacks/test_sceptre_emulator.py deploys through Sceptre)."""
    api.init(tmp_path / "watched")
    app = api.load(tmp_path / "watched" / "lambda-complex.yaml")
    cfn = boto3.client("cloudformation")
    for stack in common.STACKS:
        body = render.to_json(render.render(app, stack, fake_images(app)))
        cfn.create_stack(StackName=common.stack_name(app, stack), TemplateBody=body,
                         Capabilities=["CAPABILITY_NAMED_IAM"])
    yield app


def _send(queue: str, count: int) -> None:
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    for i in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=f'{{"n": {i}}}')


@pytest.mark.emulator
def test_status_watch_redraws_the_table_until_ctrl_c(deployed: api.App) -> None:
    app = deployed
    _send(names.queue_name(app.name, "hello"), 3)
    _send(names.dead_letter_queue_name(app.name, "hello"), 1)
    master, slave = open_terminal(100)
    env = {**os.environ, "TERM": "xterm", "NO_COLOR": "1"}
    proc = start_on(slave, [sys.executable, "-m", "lambda_complex.builder.cli", "status",
                            "--watch", "--interval", "0.3", "--app", str(app.source)], env)
    try:
        def hello(frame: str) -> list[str]:
            return next((x.split() for x in frame.splitlines() if x.startswith("hello")), [])

        first = read_until(master, lambda text: any(hello(f)[2:3] == ["3"]
                                                   for f in frames(text)), 60)
        assert hello(frames(first)[-1])[:6] == ["hello", "event_from_message", "3", "0/2",
                                                  "1", "push"], first
        _send(names.queue_name(app.name, "hello"), 2)  # the next refresh shows them
        later = read_until(master, lambda text: any(hello(f)[2:3] == ["5"]
                                                   for f in frames(text)), 30)
        assert any(hello(f)[2:3] == ["5"] for f in frames(later)), later
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        rest = read_until(master, lambda text: SHOW in text, 5)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    out = first + later + rest
    assert out.startswith(HIDE) and out.rstrip().endswith(SHOW), out[-500:]
    block = len(frames(first)[-1].splitlines())  # header lines, titles, one row
    assert block == 5 and f"\r\x1b[{block}A{CLEAR}" in later  # redrawn in place
    assert "watched: running" in frames(later)[-1]
    assert "Traceback" not in out and not SGR.search(out)  # NO_COLOR: not one colour code

    # No terminal (a pipe, a CI log), --json: one JSON object a line at each refresh.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        piped = subprocess.Popen(
            [sys.executable, "-m", "lambda_complex.builder.cli", "status", "--watch", "--json",
             "--interval", "0.2", "--app", str(app.source)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        assert piped.stdout is not None
        reports = [json.loads(piped.stdout.readline()) for _ in range(2)]
        piped.send_signal(signal.SIGINT)
        assert piped.wait(timeout=30) == 0
    finally:
        if piped.poll() is None:
            piped.kill()
    assert [r["components"][0]["queued"] for r in reports] == [5, 5]
    assert "\x1b" not in piped.stdout.read() + (piped.stderr.read() if piped.stderr else "")
