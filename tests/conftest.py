"""Shared fixtures: an AWS account in moto with every resource of `infra/` created the way the
local stack creates them, and helpers to upload and run the ingest queue through the handler."""

from __future__ import annotations

import os

# Before numpy loads: BLAS on one thread, as deployed; xdist workers share two cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

import app as chalice_app
from chalicelib.models import HashRecord, ObjectRef, Policy
from chalicelib.settings import Settings
from chalicelib.wiring import Cordon
from cordon_cli.bootstrap import Stack, bootstrap, load_template
from cordon_cli.operations import add_tenant
from cordon_cli.runner import QueueRunner

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "CORDON_INDEX_MAX_AGE_SECONDS": "0",
}


@dataclass
class World:
    """One moto account with Cordon's resources, and the handler wired to them."""

    session: Any
    stack: Stack
    cordon: Cordon
    runner: QueueRunner
    review_runner: QueueRunner

    @property
    def s3(self) -> Any:
        return self.cordon.s3

    def tenant(
        self,
        tenant_id: str,
        bucket: str,
        via: str = "sqs",
        groups: list[str] | None = None,
        **policy: Any,
    ) -> None:
        add_tenant(
            self.cordon,
            tenant_id,
            [bucket],
            via=via,
            policy=Policy(**policy),
            create_buckets=True,
            groups=groups,
        )

    def share(self, signal_type: str, value: str, labels: tuple[str, ...] = ("test",)) -> None:
        self.cordon.hashes.put([HashRecord(signal_type, value, labels, source="test")])

    def upload(self, bucket: str, key: str, data: bytes) -> ObjectRef:
        response = self.s3.put_object(Bucket=bucket, Key=key, Body=data)
        return ObjectRef(bucket, key, response.get("VersionId"), response["ETag"])

    def drain(self) -> None:
        """Deliver everything queued to the ingest handler, as Lambda would, until idle."""
        self.runner.drain(idle_polls=2, timeout=60)

    def settle(self, until: Any = None, timeout: float = 30.0) -> None:
        """Run both queues' handlers until `until()` holds (or, without it, until both queues
        stay empty a moment): the review workflow executes in moto's background thread and
        sends its steps whenever it gets there."""
        deadline = time.monotonic() + timeout
        idle = 0
        while time.monotonic() < deadline:
            moved = self.runner.poll_once() + self.review_runner.poll_once()
            if until is not None and until():
                return
            idle = 0 if moved else idle + 1
            if until is None and idle >= 8:
                return
            if not moved:
                time.sleep(0.1)
        if until is not None:
            raise AssertionError(f"condition not met within {timeout} s")

    def reviewer(self, tenant_id: str, reviewer_id: str) -> str:
        return self.cordon.tenants.add_api_key(tenant_id, reviewer_id)

    def case(self, tenant_id: str, ref: ObjectRef) -> dict[str, Any] | None:
        """The object's case as the API and `cordon trace` show it."""
        case = self.cordon.cases.get(ref.case_id(tenant_id))
        return case.to_dict() if case else None

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except self.s3.exceptions.ClientError:
            return False
        return True

    def dead_letters(self) -> list[dict[str, Any]]:
        url = self.stack.refs["IngestDeadLetterQueue"]
        sqs = self.cordon.sqs
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        return messages


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        session = boto3.session.Session(region_name="us-east-1")
        template = load_template()
        stack = bootstrap(session, template)
        for name, value in stack.environment(template).items():
            monkeypatch.setenv(name, value)
        chalice_app.reset()
        cordon = chalice_app.cordon()
        runner = QueueRunner(
            cordon.sqs,
            stack.refs["IngestQueue"],
            chalice_app.ingest,
            function_name="ingest",
            retry_delay_seconds=0,
        )
        review_runner = QueueRunner(
            cordon.sqs,
            stack.refs["ReviewWorkQueue"],
            chalice_app.review_worker,
            function_name="review_worker",
            retry_delay_seconds=0,
        )
        yield World(session, stack, cordon, runner, review_runner)
        chalice_app.reset()


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({k: v for k, v in os.environ.items() if k.startswith("CORDON_")})
