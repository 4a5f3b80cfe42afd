"""The application's own functions in process mode: the real wrapper, compiled config and handler
from the source folder, with AWS calls going to the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from lambda_complex.builder.app import load
from lambda_complex.builder.local.aws.emulator import Emulator
from lambda_complex.builder.local.lambda_service import functions
from lambda_complex.runtime import protocol

from .conftest import MakeService, lambda_client

REPO = Path(__file__).resolve().parents[2]


def test_a_component_runs_through_the_wrapper_in_process_mode(
    make_service: MakeService, aws: Emulator
) -> None:
    app = load.load(REPO / "lambda-complex.yaml")
    boto3.client("s3").create_bucket(
        Bucket="sitegen-example-site",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    service = make_service(*functions.from_app(app), aws_env=aws.client_env())
    page = {"site": "demo", "slug": "hello", "html": "<p>hi</p>"}

    response = lambda_client(service.url).invoke(
        FunctionName="sitegen-publish", Payload=protocol.new_envelope(page).to_json()
    )

    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    # The handler ran with the application's environment (its bucket) and wrote the page...
    body = boto3.client("s3").get_object(Bucket="sitegen-example-site", Key="demo/hello.html")
    assert body["Body"].read() == b"<p>hi</p>"
    # ...and the wrapper, not the bare handler, answered: one input handled, nothing routed on.
    assert answer == {"handled": 1, "succeeded": 1, "failed": 0, "dead_lettered": 0}
