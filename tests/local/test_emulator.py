"""The embedded emulator's launcher: moto with an O(1) retention check on receive, same answers."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from lambda_complex.builder.local import emulator

from .conftest import missing_real_part

CHECK = textwrap.dedent("""
    import runpy, sys
    from moto.sqs import models
    original = models.SQSBackend.is_message_valid_based_on_retention_period
    runpy.run_path(sys.argv[1])["_patch_retention_check"]()
    patched = models.SQSBackend.is_message_valid_based_on_retention_period
    assert patched is not original
    backend = models.sqs_backends["123456789012"]["eu-west-1"]
    backend.create_queue("q", MessageRetentionPeriod="60")
    fresh = backend.send_message("q", "x")
    old = backend.send_message("q", "y")
    old.sent_timestamp -= 61_000
    for message in (fresh, old):
        assert patched(backend, "q", message) == original(backend, "q", message)
    print(patched(backend, "q", fresh), patched(backend, "q", old))
""")


def test_fast_launcher_gives_moto_the_same_answers() -> None:
    try:
        command = emulator.server_command(emulator.find_moto_server())
    except emulator.EmulatorNotFound as e:
        missing_real_part(str(e))
        raise
    assert command[1:] == [str(emulator.FAST_LAUNCHER)], command
    done = subprocess.run([command[0], "-c", CHECK, str(emulator.FAST_LAUNCHER)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]


def test_without_a_python_beside_moto_server_it_runs_unchanged(tmp_path: Path) -> None:
    executable = tmp_path / "moto_server"
    executable.write_text("")
    assert emulator.server_command(str(executable)) == [str(executable)]
    assert emulator.server_command(str(executable), fast=False) == [str(executable)]
