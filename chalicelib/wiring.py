"""Builds Cordon's parts from settings: the one place that knows which adapter goes where.

Clients come from boto3's default chain, so the same code talks to AWS when deployed and to
moto when `AWS_ENDPOINT_URL` points at the local stack.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from chalicelib.adapters.cases import CaseStore
from chalicelib.adapters.classifier import RekognitionModeration
from chalicelib.adapters.flood import FloodGuard
from chalicelib.adapters.hashes import HashTable, IndexSnapshots
from chalicelib.adapters.storage import ObjectStore
from chalicelib.adapters.tenants import TenantRegistry
from chalicelib.adapters.workflow import ReviewWorkflow
from chalicelib.ingest import Ingest, sqs_dead_letter
from chalicelib.opinions import Opinions
from chalicelib.pipeline import Pipeline
from chalicelib.retro import RetroScanner
from chalicelib.review import Reviews
from chalicelib.settings import Settings
from chalicelib.sharing import UpdatePublisher
from chalicelib.webhooks import WebhookDeadLetters


@dataclass
class Cordon:
    """Every adapter, built on first use and kept for the life of a warm container."""

    settings: Settings
    session: Any = None

    def _session(self) -> Any:
        return self.session or boto3.session.Session()

    def client(self, service: str) -> Any:
        return self._session().client(service)

    @cached_property
    def s3(self) -> Any:
        return self._session().client("s3")

    @cached_property
    def sqs(self) -> Any:
        return self._session().client("sqs")

    @cached_property
    def dynamodb(self) -> Any:
        return self._session().resource("dynamodb")

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(self.s3, self.settings.evidence_bucket)

    @cached_property
    def hashes(self) -> HashTable:
        bucket = self.settings.index_bucket
        return HashTable(
            self.dynamodb.Table(self.settings.hashes_table),
            self.settings.index_max_age_seconds,
            snapshots=IndexSnapshots(self.s3, bucket) if bucket else None,
        )

    @cached_property
    def cases(self) -> CaseStore:
        return CaseStore(self.dynamodb.Table(self.settings.cases_table))

    @cached_property
    def tenants(self) -> TenantRegistry:
        return TenantRegistry(self.dynamodb.Table(self.settings.tenants_table))

    @cached_property
    def retro_scanner(self) -> RetroScanner:
        return RetroScanner(self.cases, self.tenants, self.pipeline)

    @cached_property
    def update_publisher(self) -> UpdatePublisher:
        return UpdatePublisher(self.client("sns"), self.settings.hash_updates_topic_arn)

    @cached_property
    def reviews(self) -> Reviews:
        return Reviews(
            cases=self.cases,
            tenants=self.tenants,
            hashes=self.hashes,
            store=self.store,
            workflow=ReviewWorkflow(
                self.client("stepfunctions"), self.settings.review_state_machine_arn
            ),
            notify=self._notify_tenant if self.settings.tenant_notices_topic_arn else None,
            notify_reviewers=self._notify_reviewers if self.settings.review_topic_arn else None,
            max_image_pixels=self.settings.max_image_pixels,
        )

    def _publish(self, topic_arn: str, tenant_id: str, event: dict[str, Any]) -> None:
        self.client("sns").publish(
            TopicArn=topic_arn,
            Message=json.dumps({**event, "tenant_id": tenant_id}),
            MessageAttributes={"tenant_id": {"DataType": "String", "StringValue": tenant_id}},
        )

    def _notify_tenant(self, tenant_id: str, event: dict[str, Any]) -> None:
        self._publish(self.settings.tenant_notices_topic_arn, tenant_id, event)

    def _notify_reviewers(self, tenant_id: str, event: dict[str, Any]) -> None:
        self._publish(self.settings.review_topic_arn, tenant_id, event)

    @cached_property
    def pipeline(self) -> Pipeline:
        return Pipeline(
            settings=self.settings,
            store=self.store,
            hashes=self.hashes,
            cases=self.cases,
            tenants=self.tenants,
            classifier_factory=lambda: RekognitionModeration(self._session().client("rekognition")),
            reviews=self.reviews if self.settings.review_state_machine_arn else None,
            flood_guard=FloodGuard(
                self.hashes, self.settings.flood_limit, self.settings.flood_window_seconds
            ),
        )

    @cached_property
    def opinions(self) -> Opinions:
        return Opinions(
            self.hashes,
            self.settings.dispute_threshold,
            notify=self._notify_tenant if self.settings.tenant_notices_topic_arn else None,
        )

    @cached_property
    def webhook_dead_letters(self) -> WebhookDeadLetters:
        url = self.sqs.get_queue_url(QueueName=self.settings.webhook_dlq)["QueueUrl"]
        return WebhookDeadLetters(self.sqs, url)

    @cached_property
    def dlq_url(self) -> str:
        return self.sqs.get_queue_url(QueueName=self.settings.ingest_dlq)["QueueUrl"]

    @cached_property
    def ingest(self) -> Ingest:
        persistence = DynamoDBPersistenceLayer(
            table_name=self.settings.idempotency_table,
            boto3_client=self._session().client("dynamodb"),
        )
        return Ingest(
            pipeline=self.pipeline,
            persistence=persistence,
            dead_letter=sqs_dead_letter(self.sqs, lambda: self.dlq_url),
            metrics=Metrics(namespace="Cordon", service="ingest"),
            max_receives=self.settings.max_receives,
            idempotency_ttl_seconds=self.settings.idempotency_ttl_seconds,
        )
