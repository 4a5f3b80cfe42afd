"""Hook `!lc_switchover <phase>` (config/prod/*.yaml wires the phases):

- `begin`  on queues before_create/before_update: preflight (every image in the build manifest,
  every stack renders and passes cfn-lint, and `lcbuild doctor`'s deploy checks: credentials,
  concurrency left unreserved, ECR repositories and their policy, template sizes; against the
  local emulator only the template sizes, `doctor.ON_EMULATOR` says why), refuse
  removals that would drop messages, wait out SQS's queue-name cooldown after a delete, pause;
  registers an exit handler that resumes whatever the deploy paused, because Sceptre runs no
  `after_*` hook when an action fails: a failed deploy thus leaves the old version running.
- `finish` on coordinator after_create/after_update: switch queues over, then resume.
- `before_delete` on coordinator and queues (whichever Sceptre deletes first refuses), and
  `after_delete` on queues: remove the retained dead-letter queues that are empty.

Return values of hooks are discarded by Sceptre; state between phases of one `sceptre` run lives
in this module (one process), and everything that must survive a crash lives in AWS (the control
parameter's `deploying` value, retiring queues kept in the queues stack).
"""

from __future__ import annotations

import atexit
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sceptre.hooks import Hook

from lambda_complex.builder.app.model import App
from lambda_complex.builder.cfn import common
from lambda_complex.builder.deploy import doctor, images, switchover
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.sceptre import project, rendered
from lambda_complex.builder.sceptre.errors import LambdaComplexError, as_sceptre_errors

log = logging.getLogger("lambda_complex.sceptre")

PHASES = ("begin", "finish", "before_delete", "after_delete")
# Set for a local run's deploy (`local.aws.sceptre_local --local-run`): it goes to the emulator
# with placeholder images, where the preflight's account checks cannot fail (`doctor.ON_EMULATOR`).
EMULATOR = False


@dataclass
class _Run:
    app: App
    aws: Aws
    since: datetime
    began: bool = False
    finished: bool = False
    checked_delete: bool = False
    retained_queues: list[str] = field(default_factory=list)  # what a delete leaves


_runs: dict[str, _Run] = {}


def _restore_at_exit() -> None:
    for run in _runs.values():
        if run.began and not run.finished:
            try:
                switchover.restore(run.app, run.aws)
                log.warning("%s: deploy did not finish; dispatching restored", run.app.name)
            except Exception as e:  # the process is ending: report, never raise
                log.error("%s: could not restore the control parameter: %s (run "
                          "`lcbuild resume`)", run.app.name, e)


_exit_handler: list[bool] = []


def _register_exit_handler() -> None:
    if not _exit_handler:
        atexit.register(_restore_at_exit)
        _exit_handler.append(True)


def preflight(app: App, aws: Aws, template_bucket: str | None = None) -> None:
    """Everything that can fail before the first stack changes fails here (reads only)."""
    found = images.read(images.manifest_path(app.root), app)
    deployed = aws.deployed_template(common.stack_name(app, common.QUEUES))
    for stack in common.STACKS:
        rendered.checked(app, stack, found, deployed)
    failed = doctor.failures(doctor.deploy_checks(app, aws.session, found, template_bucket,
                                                  deployed, emulator=EMULATOR))
    if failed:
        raise LambdaComplexError("preflight: " + "; ".join(f"{c.name}: {c.detail}"
                                                           for c in failed))


class Switchover(Hook):  # type: ignore[misc]
    def _run(self) -> _Run:
        stack = self.stack
        app = project.load_app(stack.stack_group_config, project_code=stack.project_code,
                               region=stack.region, stack_tags=dict(stack.tags or {}))
        run = _runs.get(app.name)
        if run is None:
            run = _runs[app.name] = _Run(app, Aws(app.deployment.region), datetime.now(UTC))
        return run

    @as_sceptre_errors
    def run(self) -> None:
        phase = str(self.argument or "")
        if phase not in PHASES:
            raise LambdaComplexError(
                f"!lc_switchover: unknown phase '{phase}' (one of {', '.join(PHASES)})")
        run = self._run()
        if phase == "begin" and not run.began:
            preflight(run.app, run.aws, self.stack.template_bucket_name)
            _register_exit_handler()
            switchover.begin(run.app, run.aws, switchover.force_remove_from_env())
            run.began = True
        elif phase == "finish":
            report = switchover.finish(run.app, run.aws, run.since if run.began else None)
            run.finished = True
            for name, n in report.moved.items():
                log.info("switchover: moved %d message(s) from %s", n, name)
            if report.kept:
                log.warning("switchover: kept queues that still hold messages: %s",
                            ", ".join(report.kept))
        elif phase == "before_delete" and not run.checked_delete:
            run.retained_queues = switchover.before_delete(
                run.app, run.aws, switchover.force_remove_from_env())
            run.checked_delete = True
        elif phase == "after_delete":
            kept = switchover.after_delete(run.app, run.aws, run.retained_queues)
            if kept:
                log.warning("kept dead-letter queues that hold messages: %s", ", ".join(kept))
