"""`lcbuild pause` / `resume`: flip the control parameter; nothing is deleted."""

from __future__ import annotations

from lambda_complex.builder.app.model import App
from lambda_complex.builder.deploy.aws import Aws
from lambda_complex.builder.errors import UserError
from lambda_complex.runtime import names


def set_state(app: App, aws: Aws, value: str) -> tuple[str, str]:
    """Returns (before, after). The parameter is created by the coordinator stack."""
    name = names.control_parameter_name(app.name)
    current = aws.get_parameter(name)
    if current is None:
        raise UserError(f"{app.name} is not deployed (no parameter {name}): "
                        "run `sceptre launch prod` first")
    if current.value != value:
        aws.put_parameter(name, value)
    return current.value, value

