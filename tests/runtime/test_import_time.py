"""Cold start: importing the wrapper loads only the standard library and the runtime itself --
never boto3 or botocore (about 150 ms), which load on the first AWS call. How long the import
takes is measured by bench/cold_start.py (a figure and a ratio, not a timed test)."""

from __future__ import annotations

import json
import subprocess
import sys

SNIPPET = """
import json, sys
before = set(sys.modules)
import lambda_complex.runtime.wrapper
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_importing_the_wrapper_loads_no_aws_sdk_and_nothing_third_party() -> None:
    loaded = json.loads(subprocess.run([sys.executable, "-S", "-c", SNIPPET], check=True,
                                       capture_output=True, text=True,
                                       env={"PYTHONPATH": _runtime_root()}).stdout)
    outside = [m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names
               and not m.startswith("lambda_complex")]
    assert not outside, outside
    assert "lambda_complex.runtime.wrapper" in loaded  # the snippet measured the real import


def _runtime_root() -> str:
    from pathlib import Path

    import lambda_complex.runtime

    return str(Path(lambda_complex.runtime.__file__).resolve().parents[2])
