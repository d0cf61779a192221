"""Builds Cordon's parts from settings: the one place that knows which adapter goes where.

Clients come from boto3's default chain, so the same code talks to AWS when deployed and to
moto when `AWS_ENDPOINT_URL` points at the local stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from chalicelib.adapters.cases import CaseStore
from chalicelib.adapters.classifier import RekognitionModeration
from chalicelib.adapters.feed import FeedLog
from chalicelib.adapters.flood import FloodGuard
from chalicelib.adapters.hashes import HashTable, IndexSnapshots
from chalicelib.adapters.queues import Queue
from chalicelib.adapters.storage import ObjectStore
from chalicelib.adapters.tenants import TenantRegistry
from chalicelib.adapters.topics import Topic
from chalicelib.adapters.workflow import ReviewWorkflow
from chalicelib.feed import UpdateFeed
from chalicelib.ingest import Ingest
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
    def sns(self) -> Any:
        return self._session().client("sns")

    @cached_property
    def dynamodb(self) -> Any:
        return self._session().resource("dynamodb")

    @cached_property
    def hashes_table(self) -> Any:
        """The hash table's boto3 Table: the hashes, their feed and the flood counters."""
        return self.dynamodb.Table(self.settings.hashes_table)

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore(self.s3, self.settings.evidence_bucket)

    @cached_property
    def hashes(self) -> HashTable:
        bucket = self.settings.index_bucket
        return HashTable(
            self.hashes_table,
            self.settings.index_max_age_seconds,
            snapshots=IndexSnapshots(self.s3, bucket) if bucket else None,
            feed=UpdateFeed(FeedLog(self.hashes_table)),
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
        return UpdatePublisher(Topic(self.sns, self.settings.hash_updates_topic_arn))

    @cached_property
    def tenant_notices(self) -> Topic:
        return Topic(self.sns, self.settings.tenant_notices_topic_arn)

    @cached_property
    def reviewer_notices(self) -> Topic:
        return Topic(self.sns, self.settings.review_topic_arn)

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
            notify=self.tenant_notices.notify if self.settings.tenant_notices_topic_arn else None,
            notify_reviewers=(
                self.reviewer_notices.notify if self.settings.review_topic_arn else None
            ),
            max_image_pixels=self.settings.max_image_pixels,
        )

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
                self.hashes,
                self.hashes_table,
                self.settings.flood_limit,
                self.settings.flood_window_seconds,
            ),
        )

    @cached_property
    def opinions(self) -> Opinions:
        return Opinions(
            self.hashes,
            self.settings.dispute_threshold,
            notify=self.tenant_notices.notify if self.settings.tenant_notices_topic_arn else None,
        )

    @cached_property
    def webhook_dlq(self) -> Queue:
        return Queue.named(self.sqs, self.settings.webhook_dlq)

    @cached_property
    def webhook_dead_letters(self) -> WebhookDeadLetters:
        return WebhookDeadLetters(self.webhook_dlq)

    @cached_property
    def hash_updates_dlq(self) -> Queue:
        return Queue.named(self.sqs, self.settings.hash_updates_dlq)

    @cached_property
    def ingest_dlq(self) -> Queue:
        return Queue.named(self.sqs, self.settings.ingest_dlq)

    @cached_property
    def ingest(self) -> Ingest:
        persistence = DynamoDBPersistenceLayer(
            table_name=self.settings.idempotency_table,
            boto3_client=self._session().client("dynamodb"),
        )
        return Ingest(
            pipeline=self.pipeline,
            persistence=persistence,
            # The queue is looked up on the first dead letter, not at every cold start.
            dead_letter=lambda body, attributes: self.ingest_dlq.send(body, attributes),
            metrics=Metrics(namespace="Cordon", service="ingest"),
            max_receives=self.settings.max_receives,
            idempotency_ttl_seconds=self.settings.idempotency_ttl_seconds,
        )
