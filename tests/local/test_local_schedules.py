"""Schedule rules stored in the emulator fire through the local Lambda service."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3
import pytest

from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.builder.local.lambda_service.functions import FunctionDefinition
from lambda_complex.builder.local.lambda_service.schedules import Scheduler, rate_seconds

from .conftest import MakeService

ARN = "arn:aws:lambda:eu-west-1:123456789012:function:"


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60.0),
        ("rate(5 minutes)", 300.0),
        ("rate(2 hours)", 7200.0),
        ("rate(1 day)", 86400.0),
        ("cron(0 12 * * ? *)", None),
        ("rate(x minutes)", None),
    ],
)
def test_rate_seconds(expression: str, seconds: float | None) -> None:
    assert rate_seconds(expression) == seconds


def test_rules_fire_their_lambda_targets(
    make_service: MakeService, aws: Emulator, tmp_path: Path
) -> None:
    fired = tmp_path / "fired.jsonl"
    service = make_service(
        FunctionDefinition("tick", "fns.append", environment={"APPEND_FILE": str(fired)})
    )
    events = boto3.client("events")
    events.put_rule(Name="with-input", ScheduleExpression="rate(1 minute)")
    events.put_targets(
        Rule="with-input", Targets=[{"Id": "1", "Arn": ARN + "tick", "Input": '{"chain": 0}'}]
    )
    events.put_rule(Name="plain", ScheduleExpression="rate(5 minutes)")
    events.put_targets(Rule="plain", Targets=[{"Id": "1", "Arn": ARN + "tick"}])
    events.put_rule(Name="off", ScheduleExpression="rate(1 minute)", State="DISABLED")
    events.put_targets(
        Rule="off", Targets=[{"Id": "1", "Arn": ARN + "tick", "Input": '{"off": 1}'}]
    )
    events.put_rule(Name="cron", ScheduleExpression="cron(* * * * ? *)")
    events.put_targets(
        Rule="cron", Targets=[{"Id": "1", "Arn": ARN + "tick", "Input": '{"cron": 1}'}]
    )

    # 1 minute -> 0.24 s, 5 minutes -> 1.2 s
    with Scheduler(events, service.invoke_async, time_scale=0.004, refresh=0.5) as scheduler:
        time.sleep(1.8)
    assert service.wait_idle(timeout=10)

    seen = [json.loads(line) for line in fired.read_text().splitlines()]
    chain = [e for e in seen if e == {"chain": 0}]
    scheduled = [e for e in seen if e.get("detail-type") == "Scheduled Event"]
    assert 4 <= len(chain) <= 8 and scheduler.fired["with-input"] == len(chain)
    assert len(scheduled) == 1 and scheduled[0]["resources"][0].endswith(":rule/plain")
    assert len(seen) == len(chain) + len(scheduled)  # neither the disabled nor the cron rule
