"""Latency benchmark (process mode): a trickle through a 3-stage chain a -> b -> c (all
event_from_message, max_concurrency 2, batch_size 10, coordinator min_interval 10), one input every
4 s, measured as a user would: from the send of each input to each component's log line saying
it handled it, on the real testbed (emulator, sceptre deploy, Lambda service, runtime).

Per hop, from the `message` log lines of each trace (their `ts` is when the component had routed
the result on and deleted its input): `send -> a` (the send to a done), `a -> b`, `b -> c`, and
`end to end` (the send to c done); p50, p99 and max of each, per dispatch kind, and each kind's
p50 as a ratio of the baseline's in the same run. The deploy is not timed.

A dispatch kind is a row of `KINDS`: the fields it adds to every component of the definition
(and, where it says so, other fields for the entry component a). `coordinator` (the
coordinator's generations start every component) is the baseline; `push` (the default) adds
starts by the sender when a slot is free; `native` makes every component an SQS event source
mapping's; `native entry` maps only a, fed from outside, and pushes b and c.

    .venv/bin/python bench/latency.py [--n 30] [--interval 4] [--min-interval 10]
                                      [--kinds coordinator,...]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambda_complex.builder.local.run import testbed
from lambda_complex.runtime import names, protocol

APP_NAME = "lat"
CHAIN = ("a", "b", "c")
HOPS = ("send -> a", "a -> b", "b -> c", "end to end")
HEADER = """\
name: {app}
version: 0.1.0
deployment: {{region: eu-west-1, registry: ecr}}
coordinator: {{concurrency: 1, min_interval: {min_interval}, timeout: 60{coordinator}}}
components:
"""
COMPONENT = """\
  - name: {name}
    type: event_from_message
    max_concurrency: 2
    queue_wait_time: 1
    batch_size: 10
    visibility_timeout: 60
{routing}    lambda: {{path: code, handler: fns.passthrough, timeout: 30}}
{extra}"""
CODE = "def passthrough(event, context):\n    return event\n"


@dataclass(frozen=True)
class Kind:
    """A way components are started, as the definition says it."""

    description: str
    component_fields: Mapping[str, str]  # added to every component (YAML scalars)
    entry_fields: Mapping[str, str] | None = None  # instead, for the first component
    coordinator_fields: Mapping[str, str] | None = None  # added to `coordinator:`


BASELINE = "coordinator"
KINDS: dict[str, Kind] = {
    BASELINE: Kind("coordinator generations start every component (before push dispatch and "
                   "the entry watch)", {"dispatch": "coordinator"}, None, {"entry_watch": "0"}),
    "push": Kind("a component starts the next one when it has a free slot; the coordinator as "
                 "backstop (the default)", {"dispatch": "push"}),
    "native": Kind("an SQS event source mapping starts every component",
                   {"dispatch": "native"}),
    "native entry": Kind("a mapping starts a (fed from outside); a pushes b, b pushes c",
                         {"dispatch": "push"}, {"dispatch": "native"}),
}


def definition(kind: Kind, min_interval: int) -> str:
    coordinator = "".join(f", {k}: {v}" for k, v in (kind.coordinator_fields or {}).items())
    text = HEADER.format(app=APP_NAME, min_interval=min_interval, coordinator=coordinator)
    for i, name in enumerate(CHAIN):
        routing = f"    routing: {CHAIN[i + 1]}\n" if i + 1 < len(CHAIN) else ""
        fields = kind.component_fields
        if i == 0 and kind.entry_fields is not None:
            fields = kind.entry_fields
        extra = "".join(f"    {k}: {v}\n" for k, v in fields.items())
        text += COMPONENT.format(name=name, routing=routing, extra=extra)
    return text


def hop_times(lines: Iterable[Mapping[str, Any]], sent: Mapping[str, float]
              ) -> dict[str, list[float]]:
    """Seconds per hop of every input sent (trace id -> send time) that reached the end of the
    chain; a component's time is its first successful line of that trace."""
    done: dict[tuple[str, str], float] = {}
    for line in lines:
        if not protocol.reads_message_line(line) or line.get("outcome") not in protocol.DONE:
            continue
        key = (str(line.get("trace_id")), str(line.get("component")))
        done[key] = min(float(line["ts"]), done.get(key, float("inf")))
    found: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for trace, at in sent.items():
        times = [done.get((trace, c)) for c in CHAIN]
        if any(t is None for t in times):
            continue
        points = [at, *(t for t in times if t is not None)]
        for hop, start, end in zip(HOPS, points, points[1:], strict=False):
            found[hop].append(end - start)
        found["end to end"].append(points[-1] - at)
    return found


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50, p99 (nearest rank) and max, in seconds; NaN for no values."""
    if not values:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan")}
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(0.99 * len(ordered)) - 1))
    return {"p50": statistics.median(ordered), "p99": ordered[rank], "max": ordered[-1]}


def run(kind: Kind, n: int, interval: float, min_interval: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="lc-latency-"))
    (root / "lambda-complex.yaml").write_text(definition(kind, min_interval))
    (root / "code").mkdir()
    (root / "code" / "fns.py").write_text(CODE)
    (root / "code" / "requirements.txt").write_text("")
    with testbed.Testbed(root / "lambda-complex.yaml", "process") as bed:
        assert bed.tap is not None
        sqs = bed.client("sqs", bed.tap.url)  # through the tap: counted in the report
        url = bed.queue_url(names.queue_name(APP_NAME, CHAIN[0]))
        sent: dict[str, float] = {}
        start = time.monotonic()
        for i in range(n):
            time.sleep(max(0.0, start + i * interval - time.monotonic()))
            envelope = protocol.new_envelope({"i": i})
            sent[envelope.trace_id] = time.time()
            sqs.send_message(QueueUrl=url, MessageBody=envelope.to_json())
            bed.sent += 1
        idle = bed.wait_idle(timeout=20 * min_interval + 120, interval=0.25)
        result = bed.report()
        hops = hop_times(bed.logs.poll(), sent)
    return {
        "hops": {hop: summary(values) for hop, values in hops.items()},
        "completed": len(hops["end to end"]), "sent": n, "idle": idle,
        "lost": result["totals"]["lost"],
        "max_concurrency_observed": {
            c: result["components"][c]["max_concurrency_observed"] for c in CHAIN
        },
        "invocations": {c: result["components"][c]["invocations"] for c in CHAIN},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="inputs sent (default 30)")
    parser.add_argument("--interval", type=float, default=4.0, help="seconds between inputs")
    parser.add_argument("--min-interval", type=int, default=10,
                        help="coordinator min_interval (the example's: 10)")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"dispatch kinds to run, of: {', '.join(KINDS)}")
    args = parser.parse_args()
    chosen = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        parser.error(f"--kinds: unknown kind {unknown[0]!r} (known: {', '.join(KINDS)})")
    if BASELINE not in chosen:
        chosen.insert(0, BASELINE)  # the ratios need the baseline of the same run
    print(f"trickle: {len(CHAIN)} stages {' -> '.join(CHAIN)}, max_concurrency 2, batch_size 10, "
          f"min_interval {args.min_interval} s, one input every {args.interval:g} s, "
          f"N={args.n}, process mode")
    results = {}
    for name in chosen:
        r = results[name] = run(KINDS[name], args.n, args.interval, args.min_interval)
        print(f"\n{name}: {KINDS[name].description}")
        print(f"  completed {r['completed']}/{r['sent']}, lost {r['lost']}, idle at the end "
              f"{r['idle']}; invocations {r['invocations']}; max concurrency observed "
              f"{r['max_concurrency_observed']} (limit 2)")
        print(f"  {'hop':<12} {'p50 s':>8} {'p99 s':>8} {'max s':>8} {'p50/baseline':>13}")
        base = results[BASELINE]["hops"]
        for hop in HOPS:
            s = r["hops"][hop]
            ratio = s["p50"] / base[hop]["p50"] if base[hop]["p50"] else float("nan")
            print(f"  {hop:<12} {s['p50']:>8.2f} {s['p99']:>8.2f} {s['max']:>8.2f} "
                  f"{ratio:>13.3f}")
    print("\ntargets (issue 13): end to end p50 <= 1.5 s and <= 0.1 x the baseline, for push "
          "and native dispatch")


if __name__ == "__main__":
    main()
