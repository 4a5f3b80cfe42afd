"""Cold-start import time of the component wrapper (what every Lambda init pays before the
handler runs), against a baseline measured in the same run: `import json` in a fresh interpreter.
Best of N fresh interpreters each, with only the runtime on the path (as in an image). Prints
figures; asserts nothing. Budget: the wrapper's import under 50 ms on this machine.

    .venv/bin/python bench/cold_start.py [--runs 9]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import lambda_complex.runtime

ROOT = str(Path(lambda_complex.runtime.__file__).resolve().parents[2])
TIMED = """
import time
start = time.perf_counter()
import {module}
print((time.perf_counter() - start) * 1000)
"""


def best_ms(module: str, runs: int) -> float:
    return min(
        float(subprocess.run([sys.executable, "-S", "-c", TIMED.format(module=module)],
                             check=True, capture_output=True, text=True,
                             env={"PYTHONPATH": ROOT}).stdout)
        for _ in range(runs)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    baseline = best_ms("json", runs)
    wrapper = best_ms("lambda_complex.runtime.wrapper", runs)
    print(f"import json (baseline): {baseline:.1f} ms, best of {runs}")
    print(f"import lambda_complex.runtime.wrapper: {wrapper:.1f} ms, best of {runs} "
          f"({wrapper / baseline:.1f}x the baseline; budget 50 ms: "
          f"{'met' if wrapper < 50 else 'NOT met'})")


if __name__ == "__main__":
    main()
