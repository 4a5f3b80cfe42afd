"""The emulator provisions itself: its pinned environment is made under the user's cache
directory on first use and reused afterwards (tests/installed does that from an empty cache, as
a user would), and an unreachable package index is one clear sentence."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from lambda_complex.builder.local import cache
from lambda_complex.builder.local.aws import emulator, emulator_env


def _without_pip_settings() -> dict[str, str]:
    """This process's environment minus pip's own settings and the emulator override."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PIP_") and k != emulator.EMULATOR_ENV}


def _closed_port() -> int:
    return emulator.free_port()  # free now: nothing listens there


def test_pinned_requirements_pin_every_package_exactly() -> None:
    lines = [line for line in emulator_env.pinned().splitlines()
             if line.strip() and not line.startswith("#")]
    assert all("==" in line for line in lines), lines
    assert emulator_env.moto_version(emulator_env.pinned()) == "5.2.5"
    assert any(line.startswith("moto[server]==") for line in lines)


@dataclass(frozen=True)
class Provisioned:
    done: subprocess.CompletedProcess[str]
    port: int
    seconds: float
    cache: Path


@pytest.fixture(scope="module")
def unreachable_index(tmp_path_factory: pytest.TempPathFactory) -> Provisioned:
    """`--provision` once against a package index nobody answers (pip retries take a while):
    what it printed and left is checked apart from how long it took."""
    port = _closed_port()
    cache_dir = tmp_path_factory.mktemp("emulator-env") / "cache"
    env = {
        **_without_pip_settings(),
        cache.CACHE_ENV: str(cache_dir),
        "PIP_CONFIG_FILE": os.devnull,  # no pip.conf: only the index below
        "PIP_INDEX_URL": f"http://127.0.0.1:{port}/simple",
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "lambda_complex.builder.local.aws.emulator", "--provision"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    return Provisioned(done, port, time.monotonic() - started, cache_dir)


def test_an_unreachable_package_index_is_one_sentence(unreachable_index: Provisioned) -> None:
    done, port = unreachable_index.done, unreachable_index.port
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr  # the progress line, then the error
    error = lines[1]
    assert error.startswith("error: cannot set up the AWS emulator: the package index could not "
                            "be reached (")
    assert f"127.0.0.1:{port}" in error and "Connection refused" in error
    assert "PIP_INDEX_URL" in error and emulator.EMULATOR_ENV in error
    assert "Traceback" not in done.stderr and done.stdout == ""
    # Nothing half-made is taken for the environment next time.
    emulator_dir = unreachable_index.cache / "lambda-complex" / "emulator"
    assert [p.suffix for p in emulator_dir.iterdir() if not p.name.startswith(".")] == [".log"]


@pytest.mark.timing
def test_an_unreachable_package_index_fails_within_two_minutes(
    unreachable_index: Provisioned,
) -> None:
    assert unreachable_index.done.returncode == 1
    assert unreachable_index.seconds < 120, unreachable_index.seconds


def test_the_override_must_name_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(emulator.EMULATOR_ENV, str(tmp_path / "nowhere" / "moto_server"))
    with pytest.raises(emulator.EmulatorNotFound, match=r"LCBUILD_EMULATOR=.*: no such file"):
        emulator.find_moto_server()


def test_a_folder_is_built_once_and_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(partial: Path) -> None:
        calls.append(partial)
        (partial / "made").write_text("x")

    final = tmp_path / "k"
    assert cache.build_once(final, build) == final
    assert cache.build_once(final, build) == final
    assert len(calls) == 1 and (final / "made").read_text() == "x"

    def fail(partial: Path) -> None:
        (partial / "half").write_text("x")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        cache.build_once(tmp_path / "other", fail)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["k"]
    assert not any(".partial-" in p.name for p in tmp_path.iterdir())
