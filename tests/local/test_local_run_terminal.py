"""`lcbuild local run` on a terminal: the example application run in process mode on a real
pseudo terminal draws one live table (per component: queued, in flight / limit, done, failed,
dead-lettered, last error), redrawn in place, gives the terminal back and prints its summary."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lambda_complex.builder.app import load as app_load
from lambda_complex.builder.local.aws import emulator as emulator_mod
from tests.images.conftest import copy_app
from tests.terminal import CLEAR, HIDE, SGR, SHOW, frames, open_terminal, read_until, start_on

from .conftest import missing_real_part

HANDLED = {"ingest": 1, "render": 4, "publish": 5, "toc": 1, "search-index": 4}
TITLES = ["component", "queued", "in", "flight", "done", "failed", "dead-lettered", "last",
          "error"]


def _rows(frame: str) -> dict[str, list[str]]:
    cells = (line.split() for line in frame.splitlines())
    return {row[0]: row[1:] for row in cells if row and row[0] in HANDLED}


def test_local_run_draws_one_live_table_on_a_terminal(tmp_path: Path) -> None:
    try:
        emulator_mod.find_moto_server()
    except emulator_mod.EmulatorNotFound as e:
        missing_real_part(str(e))
    app_file = copy_app(tmp_path / "app")
    limits = {c.name: c.max_concurrency for c in app_load.load(app_file).components}
    site = app_file.parent / "examples" / "sitegen" / "site.json"
    master, slave = open_terminal(100)
    env = {**os.environ, "TERM": "xterm", "NO_COLOR": "1"}
    proc = start_on(slave, [sys.executable, "-m", "lambda_complex.builder.cli", "local", "run",
                            "--mode", "process", "--app", str(app_file), "--send",
                            f"ingest=@{site}", "--until-idle", "--timeout", "120"], env)
    try:
        out = read_until(master, lambda text: False, 180)  # until the run ends and closes it
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert code == 0, out[-3000:]
    assert "Traceback" not in out and not SGR.search(out), out[-3000:]  # NO_COLOR
    drawn = frames(out)
    assert len(drawn) >= 2, out[-3000:]
    last = drawn[-1]
    header, titles = last.splitlines()[:2]
    assert header.startswith("sitegen  local run (process mode)  elapsed ") and \
        header.endswith("  lost 0"), last
    assert titles.split() == TITLES
    rows = _rows(last)
    # Every component in the last frame, each with what it handled, its limit, no failure.
    assert {name: (r[1].split("/")[1], r[2], r[3], r[4]) for name, r in rows.items()} == {
        name: (str(limits[name]), str(HANDLED[name]), "0", "0") for name in HANDLED}, last
    assert all(r[0] == "0" and r[1].startswith("0/") for r in rows.values()), last
    # Redrawn in place: each later frame goes back over the block before it (as tall as this).
    block = len(last.splitlines())
    assert block == 2 + len(HANDLED) and out.count(f"\r\x1b[{block}A{CLEAR}") == len(drawn) - 1
    # The terminal given back (cursor hidden while drawing, shown at the end), then the summary.
    assert out.index(HIDE) < out.rindex(CLEAR) < out.rindex(SHOW)
    assert "demo/index.html" in out[out.rindex(SHOW):], out[-3000:]
