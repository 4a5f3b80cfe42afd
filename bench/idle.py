"""Idle cost benchmark (process mode): what the example application costs while it has nothing
to do, today's coordinator (`idle_after: 0`, chains never stop) against idle stops, both run in
this process on the real testbed (emulator, sceptre deploy, Lambda service, runtime).

Each run copies the example application (lambda-complex.yaml, examples/sitegen) into a temporary
folder with the coordinator's `idle_after` set, deploys it, sends one input through it (so the
application was busy, as in life), waits until every queue is empty (and, with idle stops, until
the chain has written its idle heartbeat), then measures a window (`--window`, 3 minutes) with
every queue empty. Measured per coordinator invocation: its duration and memory from the local
Lambda service's REPORT line (what Lambda bills: duration rounded up to 1 ms, x memory = GB-s;
an Init Duration, when there is one, is counted too) and the AWS calls it made (the `calls` of
its last log line, counted by botocore's before-call event inside the coordinator).

The schedule fires every 3 s here (the testbed's time_scale 0.05), so a window sees many ticks;
the per-hour figures scale schedule ticks to the real `rate(1 minute)` (chains.SCHEDULE_PERIOD_S)
and chain generations, which do not depend on the schedule, to wall time. Monthly: 730 hours at
AWS list prices (us-east-1):
- Lambda x86: $0.0000166667 per GB-second, $0.20 per 1M requests
  (https://aws.amazon.com/lambda/pricing/); every coordinator invocation is one request;
- SQS standard queues: $0.40 per 1M requests (https://aws.amazon.com/sqs/pricing/);
- SSM Parameter Store standard parameters: API calls at standard throughput cost nothing
  (https://aws.amazon.com/systems-manager/pricing/).
The free tiers are left out (they are per account, shared with everything else in it).

With idle stops it then sends one more input and times it to its handling by `ingest`: the first
message after idle waits for the next schedule tick (up to a period), then for the woken chain's
first generation to dispatch.

    .venv/bin/python bench/idle.py [--window 180] [--idle-after 30]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambda_complex.builder.local.run import testbed
from lambda_complex.runtime import chains, names, protocol

REPO = Path(__file__).resolve().parent.parent
ENTRY = "ingest"
TIME_SCALE = 0.05  # the schedules': rate(1 minute) fires every 3 s
HOURS_PER_MONTH = 730
LAMBDA_GB_S_USD = 0.0000166667  # x86, https://aws.amazon.com/lambda/pricing/
LAMBDA_REQUEST_USD = 0.20 / 1e6  # https://aws.amazon.com/lambda/pricing/
SQS_REQUEST_USD = 0.40 / 1e6  # standard queue, https://aws.amazon.com/sqs/pricing/
SSM_REQUEST_USD = 0.0  # standard throughput, https://aws.amazon.com/systems-manager/pricing/
SCHEDULE_EVENTS = frozenset({"schedule"})
CHAIN_EVENTS = frozenset({"chain_generation", "chain_exit", "chain_idle"})

_START = re.compile(r"^START RequestId: (\S+)")
_REPORT = re.compile(
    r"^REPORT RequestId: (\S+)\tDuration: ([\d.]+) ms\tMemory Size: (\d+) MB"
    r"(?:.*Init Duration: ([\d.]+) ms)?"
)


@dataclass
class Invocation:
    request_id: str
    duration_ms: float
    memory_mb: int
    init_ms: float
    event: str  # the event of its last coordinator log line ("" if none)
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def gb_s(self) -> float:
        """Billed: duration rounded up to 1 ms, init included, times memory."""
        return math.ceil(self.duration_ms + self.init_ms) / 1000 * self.memory_mb / 1024


def parse_log(text: str) -> list[Invocation]:
    """Invocations of one instance log (START ... REPORT per invocation, its stdout between)."""
    found: list[Invocation] = []
    last: dict[str, Any] = {}
    for line in text.splitlines():
        if _START.match(line):
            last = {}
        elif line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("event") in SCHEDULE_EVENTS | CHAIN_EVENTS:
                last = record
        elif (m := _REPORT.match(line)) is not None:
            found.append(Invocation(m.group(1), float(m.group(2)), int(m.group(3)),
                                    float(m.group(4) or 0.0), str(last.get("event", "")),
                                    dict(last.get("calls", {}))))
    return found


def coordinator_invocations(log_dir: Path, app: str) -> dict[str, Invocation]:
    folder = log_dir / names.function_name(app, names.COORDINATOR)
    return {inv.request_id: inv for path in sorted(folder.glob("*.log"))
            for inv in parse_log(path.read_text(errors="replace"))}


@dataclass
class Share:
    """One kind of coordinator invocation (schedule ticks or chain generations) per idle hour."""

    invocations: float = 0.0
    gb_s: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)

    def add(self, other: Share) -> Share:
        return Share(self.invocations + other.invocations, self.gb_s + other.gb_s,
                     self.calls + other.calls)


def per_hour(window: Iterable[Invocation], window_s: float, ticks: int) -> dict[str, Share]:
    """Scale a window's invocations to one idle hour: ticks to the real schedule period, chain
    generations to wall time."""
    window = list(window)
    ticks_per_hour = 3600 / chains.SCHEDULE_PERIOD_S
    shares: dict[str, Share] = {}
    for kind, events, scale in (
        ("schedule ticks", SCHEDULE_EVENTS, ticks_per_hour / max(1, ticks)),
        ("chain generations", CHAIN_EVENTS, 3600 / window_s),
    ):
        chosen = [i for i in window if i.event in events]
        calls: Counter[str] = Counter()
        for i in chosen:
            calls.update(i.calls)
        shares[kind] = Share(len(chosen) * scale, sum(i.gb_s for i in chosen) * scale,
                             Counter({k: round(v * scale) for k, v in calls.items()}))
    return shares


def monthly_usd(hour: Share) -> dict[str, float]:
    months = HOURS_PER_MONTH
    return {
        "lambda duration": hour.gb_s * months * LAMBDA_GB_S_USD,
        "lambda requests": hour.invocations * months * LAMBDA_REQUEST_USD,
        "sqs requests": hour.calls["sqs"] * months * SQS_REQUEST_USD,
        "ssm requests": hour.calls["ssm"] * months * SSM_REQUEST_USD,
    }


def example_app(idle_after: int) -> Path:
    """A copy of the example application with the coordinator's idle_after set."""
    root = Path(tempfile.mkdtemp(prefix="lc-idle-"))
    shutil.copytree(REPO / "examples" / "sitegen", root / "examples" / "sitegen")
    text = (REPO / "lambda-complex.yaml").read_text()
    assert "\ncoordinator:\n" in text
    text = text.replace("\ncoordinator:\n", f"\ncoordinator:\n  idle_after: {idle_after}\n", 1)
    (root / "lambda-complex.yaml").write_text(text)
    return root / "lambda-complex.yaml"


def chain_heartbeat(bed: testbed.Testbed) -> chains.Heartbeat | None:
    name = names.chain_parameter_name(bed.app.name, 0)
    found = bed.client("ssm").get_parameters(Names=[name])["Parameters"]
    return chains.Heartbeat.parse(found[0]["Value"]) if found else None


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench/idle.py: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.5)


def first_handled(lines: Iterable[Mapping[str, Any]], trace_id: str) -> float | None:
    times = [float(x["ts"]) for x in lines if protocol.reads_message_line(x)
             and x.get("trace_id") == trace_id and x.get("component") == ENTRY
             and x.get("outcome") in protocol.DONE]
    return min(times) if times else None


def run(idle_after: int, window_s: float) -> dict[str, Any]:
    app_path = example_app(idle_after)
    site = json.loads((app_path.parent / "examples" / "sitegen" / "site.json").read_text())
    with testbed.Testbed(app_path, "process", time_scale=TIME_SCALE) as bed:
        app = bed.app.name
        bed.send(ENTRY, site)
        wait_for(lambda: bed.wait_idle(timeout=5), 180, "the warm-up input's handling")
        busy_end = coordinator_invocations(bed.log_dir, app)
        if idle_after:
            wait_for(lambda: (hb := chain_heartbeat(bed)) is not None and hb.idle,
                     idle_after + 120, "the chain's idle stop")
        else:
            time.sleep(20)  # a couple of generations of the running chain
        before = coordinator_invocations(bed.log_dir, app)
        fired_before = sum(bed.scheduler.fired.values()) if bed.scheduler else 0
        time.sleep(window_s)
        after = coordinator_invocations(bed.log_dir, app)
        ticks = (sum(bed.scheduler.fired.values()) if bed.scheduler else 0) - fired_before
        window = [inv for rid, inv in after.items() if rid not in before]
        stopping = [inv for rid, inv in before.items() if rid not in busy_end]
        result: dict[str, Any] = {
            "idle_after": idle_after, "window_s": window_s, "ticks": ticks,
            "window": window, "hour": per_hour(window, window_s, ticks),
            "stopping_gb_s": sum(i.gb_s for i in stopping),
            "stopping_invocations": len(stopping),
            "lost": bed.report()["totals"]["lost"],
        }
        if idle_after:
            envelope = protocol.new_envelope(site)
            sqs = bed.client("sqs", bed.tap.url if bed.tap else None)
            sqs.send_message(QueueUrl=bed.queue_url(names.queue_name(app, ENTRY)),
                             MessageBody=envelope.to_json())
            bed.sent += 1
            sent_at = time.time()
            wait_for(lambda: first_handled(bed.logs.poll(), envelope.trace_id) is not None,
                     120, "the first input after idle")
            handled = first_handled(bed.logs.poll(), envelope.trace_id) or sent_at
            woken = [float(x["ts"]) for x in bed.logs.poll() if x.get("event") == "schedule"
                     and x.get("restarted") and float(x["ts"]) >= sent_at - 0.5]
            result["after_idle_s"] = handled - sent_at
            result["tick_to_handled_s"] = handled - min(woken) if woken else float("nan")
            bed.wait_idle(timeout=120)
    return result


def show(name: str, r: Mapping[str, Any]) -> Share:
    hour: dict[str, Share] = r["hour"]
    total = hour["schedule ticks"].add(hour["chain generations"])
    print(f"\n{name} (idle_after {r['idle_after']}): window {r['window_s']:.0f} s with every "
          f"queue empty, {r['ticks']} schedule ticks, {len(r['window'])} coordinator "
          f"invocations measured, lost {r['lost']}")
    print(f"  {'per idle hour':<18} {'invocations':>11} {'GB-s':>9} {'SQS':>7} {'SSM':>6} "
          f"{'Lambda':>7}")
    for kind, s in [*hour.items(), ("total", total)]:
        print(f"  {kind:<18} {s.invocations:>11.0f} {s.gb_s:>9.2f} {s.calls['sqs']:>7} "
              f"{s.calls['ssm']:>6} {s.calls['lambda']:>7}")
    usd = monthly_usd(total)
    print(f"  per month ({HOURS_PER_MONTH} h idle): " + ", ".join(
        f"{k} ${v:.4f}" for k, v in usd.items()) + f"; total ${sum(usd.values()):.4f}")
    if r["idle_after"]:
        print(f"  going idle after the last work: {r['stopping_invocations']} coordinator "
              f"invocations, {r['stopping_gb_s']:.2f} GB-s (with this run's idle_after)")
        print(f"  first input after idle: handled {r['after_idle_s']:.1f} s after its send "
              f"(schedule every {chains.SCHEDULE_PERIOD_S * TIME_SCALE:g} s here), "
              f"{r['tick_to_handled_s']:.2f} s after the tick that woke the chain; at "
              f"rate(1 minute): up to {chains.SCHEDULE_PERIOD_S:.0f} s + "
              f"{r['tick_to_handled_s']:.1f} s")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=180.0,
                        help="seconds measured with every queue empty (default 180)")
    parser.add_argument("--idle-after", type=int, default=30,
                        help="the idle stop's idle_after in this run (default 30; 300 by "
                             "default in a definition: it changes only the cost of going idle)")
    args = parser.parse_args()
    if args.window < 30 or args.idle_after < 1:
        parser.error("--window must be at least 30 s and --idle-after at least 1")
    print("idle cost: the example application (lambda-complex.yaml), process mode, coordinator "
          "memory and min_interval as defined")
    today = show("today", run(0, args.window))
    idle = show("idle stops", run(args.idle_after, args.window))
    ratio = idle.gb_s / today.gb_s if today.gb_s else float("nan")
    saved = sum(monthly_usd(today).values()) - sum(monthly_usd(idle).values())
    print(f"\ncoordinator GB-s per idle hour, idle stops / today: {ratio:.4f} "
          f"(target <= 0.05); saves ${saved:.2f} per month per idle application")


if __name__ == "__main__":
    main()
