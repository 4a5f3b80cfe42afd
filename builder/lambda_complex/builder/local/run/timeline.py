"""The phases of a local run's start, timed: when each began and ended, in seconds since the
run began. The testbed records them (`Testbed.timeline`); `lcbuild local run --timings` prints
each progress line with its time and, once started, the breakdown (`summary`), which shows what
ran side by side (the Lambda service starts while sceptre deploys)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# The phases of `Testbed.start`, in the order they begin.
EMULATOR = "emulator"  # moto's process until it answers
PREPARE = "prepare"  # what needs no emulator: placeholder manifest, the functions' definitions
IDENTITIES = "identities"  # the deployer's IAM user, IAM enforcement
DEPLOY = "deploy"  # the stack group by the sceptre CLI
SERVICE = "service"  # the local Lambda service, started while sceptre runs
EARLY = "inputs"  # once the functions stack exists: its functions in the service, inputs sent
FUNCTIONS = "functions"  # the deployed functions merged in, buckets, event sources
SCHEDULES = "schedules"  # the schedule rules' first reading and firing thread


@dataclass(frozen=True)
class Phase:
    name: str
    start: float  # seconds since the timeline began
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def overlap(a: Phase, b: Phase) -> float:
    """Seconds `a` and `b` ran at the same time (0 when one ended before the other began)."""
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))


def summary(phases: list[Phase]) -> str:
    """'emulator 0.00-1.21 s, deploy 1.30-3.95 s, ...' in the order the phases began."""
    ordered = sorted(phases, key=lambda p: p.start)
    return ", ".join(f"{p.name} {p.start:.2f}-{p.end:.2f} s" for p in ordered)


class Timeline:
    """`with timeline.phase(NAME):` around each phase (from any thread); `phases`, `elapsed()`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.origin = clock()
        self._phases: list[Phase] = []
        self._lock = threading.Lock()

    def elapsed(self) -> float:
        return self._clock() - self.origin

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = self.elapsed()
        try:
            yield
        finally:
            with self._lock:
                self._phases.append(Phase(name, start, self.elapsed()))

    def add(self, name: str, started_at: float, ended_at: float) -> None:
        """A phase timed elsewhere, by the same clock (time.monotonic() values)."""
        with self._lock:
            self._phases.append(Phase(name, started_at - self.origin, ended_at - self.origin))

    @property
    def phases(self) -> list[Phase]:
        with self._lock:
            return list(self._phases)

    def of(self, name: str) -> Phase | None:
        """The phase called `name` (its last run), None if it has not ended."""
        found = [p for p in self.phases if p.name == name]
        return found[-1] if found else None
