"""Process mode: each warm instance is a Python process running the real runtime interface client
(`awslambdaric`, the one the images run) against the instance's Runtime API server. No Docker.

The process gets a Lambda-like environment, not the developer's: the function's variables, the
reserved Lambda ones, `LAMBDA_TASK_ROOT` = the component's source folder (also the working
directory), and `LAMBDA_COMPLEX_CONFIG` = the compiled config. It imports only what the
component's image would hold (`worker_env`): Python runs with `-S` (no site-packages) and an
explicit `PYTHONPATH` of the component folder, its installed requirements, the runtime package
and the base image's packages.

Memory: Lambda kills an execution environment whose memory (a cgroup) exceeds the function's
setting. Here the service polls the process's resident set (`rss_bytes`) while it runs and kills it
the same way. As a backstop between polls, `RLIMIT_DATA` caps private writable memory at twice the
setting plus 512 MiB: not the limit itself, because it also counts thread stacks' reservations,
which never become resident (RLIMIT_AS would count even more unused address space).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from lambda_complex.builder.local.lambda_service import worker_env
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.runtime.config import CONFIG_FILE_NAME, CONFIG_PATH_ENV

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# Runs in the child: set the backstop limit, then hand over to awslambdaric's own entry point.
_BOOTSTRAP = """\
import resource, sys
limit = int(sys.argv[1]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
from awslambdaric.__main__ import main
main(["awslambdaric", sys.argv[2]])
"""


def data_limit_mib(memory: int) -> int:
    return 2 * memory + 512


class ProcessInstance:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.ident = str(process.pid)

    def exit_status(self) -> str | None:
        """None while running, else how it ended, in Lambda's words."""
        code = self.process.poll()
        if code is None:
            return None
        if code < 0:
            return f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}"
        return f"exit status {code}"

    def rss_bytes(self) -> int | None:
        try:
            with open(f"/proc/{self.process.pid}/statm", encoding="ascii") as f:
                return int(f.read().split()[1]) * _PAGE_SIZE
        except (OSError, IndexError, ValueError):
            return None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class ProcessLauncher:
    """Starts instances as local processes with this interpreter, each seeing only what its
    image would hold. `distributions`: the base image's packages (tests leave one out)."""

    def __init__(
        self,
        python: str = sys.executable,
        distributions: Iterable[str] = worker_env.BASE_DISTRIBUTIONS,
    ) -> None:
        self.python = python
        self.distributions = tuple(distributions)
        self._environments: dict[Path, worker_env.WorkerEnvironment] = {}
        self._lock = threading.Lock()

    def environment(self, fn: FunctionDefinition, work_dir: Path) -> worker_env.WorkerEnvironment:
        """The import path for `fn`'s code, made once per folder (installing its requirements
        on first use: see `prepare`)."""
        task_root = (fn.code_path or work_dir).resolve()
        with self._lock:
            found = self._environments.get(task_root)
            if found is None:
                found = worker_env.prepare(task_root, fn.name, self.distributions)
                self._environments[task_root] = found
            return found

    def prepare(self, functions: Iterable[FunctionDefinition], work_dir: Path) -> None:
        """Make every function's environment now, before any instance starts: a requirements
        install takes longer than Lambda's init phase may, and its failure is the run's."""
        for fn in functions:
            self.environment(fn, work_dir / fn.name)

    def start(
        self,
        fn: FunctionDefinition,
        runtime_api: str,
        environment: Mapping[str, str],
        work_dir: Path,
        log_path: Path,
    ) -> ProcessInstance:
        worker = self.environment(fn, work_dir)
        task_root = worker.task_root
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": worker.pythonpath,
            "LAMBDA_TASK_ROOT": str(task_root),
            **environment,
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
        }
        if fn.config_json is not None:
            # Named by its content: a redeploy's new config never meets an old file.
            digest = hashlib.sha256(fn.config_json.encode()).hexdigest()[:16]
            config_path = work_dir / f"{digest}-{CONFIG_FILE_NAME}"
            if not config_path.exists():  # atomically: instances may start side by side
                partial = work_dir / f".{CONFIG_FILE_NAME}.{os.getpid()}.{id(env)}"
                partial.write_text(fn.config_json, encoding="utf-8")
                os.replace(partial, config_path)
            env[CONFIG_PATH_ENV] = str(config_path)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [self.python, "-S", "-c", _BOOTSTRAP, str(data_limit_mib(fn.memory)), fn.handler],
                cwd=task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # A Ctrl-C in the terminal reaches the service, which stops the workers itself.
                start_new_session=True,
            )
        return ProcessInstance(process)
