"""The ingest queue's consumer: an SQS batch in, partial batch failures out.

Each record is read (any envelope, see `chalicelib.events`) and each object it names is
processed at most once, keyed on bucket, key and version (or ETag), by powertools' idempotency
layer. One bad record never fails the others: powertools' BatchProcessor reports only the
failed ones back to SQS. A body nobody can read, and a record that has failed
`max_receives` times, go straight to the dead-letter queue with their reason attached, where
`cordon dlq` (or SQS's redrive) can send them back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from chalicelib import logs
from chalicelib.errors import REASON_ATTRIBUTE, MalformedEventError
from chalicelib.events import parse_body
from chalicelib.models import ObjectRef, Outcome, Result
from chalicelib.pipeline import Pipeline

logger = logs.logger


class Ingest:
    def __init__(
        self,
        pipeline: Pipeline,
        persistence: BasePersistenceLayer,
        dead_letter: Callable[[str, dict[str, str]], None],
        metrics: Metrics,
        max_receives: int,
        idempotency_ttl_seconds: int,
    ) -> None:
        self.pipeline = pipeline
        self.dead_letter = dead_letter
        self.metrics = metrics
        self.max_receives = max_receives
        self.config = IdempotencyConfig(
            event_key_jmespath="[bucket, key, version]",
            expires_after_seconds=idempotency_ttl_seconds,
            raise_on_no_idempotency_key=True,
        )
        self._ran = False  # whether the last `process` ran the pipeline (not a cached result)
        self._process_once = idempotent_function(
            data_keyword_argument="obj", persistence_store=persistence, config=self.config
        )(self._process)

    def handle_batch(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        """Lambda's SQS event in, `{"batchItemFailures": [...]}` out."""
        if context is not None:
            self.config.register_lambda_context(context)
        logs.drop_stream_constants()
        # Report every failed record, even when all failed, rather than raising: Lambda then
        # retries exactly those, and the invocation does not count as an error.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        try:
            return process_partial_response(
                event=event,
                record_handler=self.handle_record,
                processor=processor,
                context=context,
            )
        finally:
            with warnings.catch_warnings():
                # A batch of test events or deletes has no metrics: expected, not a problem.
                warnings.filterwarnings("ignore", "No application metrics to publish")
                self.metrics.flush_metrics()
            # With metrics disabled (local runs) powertools neither prints nor clears them,
            # and a warm container would pile them up until its 100-value auto-flush.
            self.metrics.clear_metrics()

    def handle_record(self, record: SQSRecord) -> list[Result]:
        # Each object sets its own id in `process`; a record's other lines (ignored, dead-
        # lettered) name their message instead of carrying the previous record's object.
        logger.set_correlation_id(None)
        try:
            parsed = parse_body(record.body)
        except MalformedEventError as error:
            self._dead_letter(record, f"malformed event: {error}")
            return []
        for reason in parsed.ignored:
            logger.info("event ignored", extra={"reason": reason, "message_id": record.message_id})
        try:
            return [self.process(ref) for ref in parsed.refs]
        except Exception as error:
            self.metrics.add_metric(name="ObjectsFailed", unit=MetricUnit.Count, value=1)
            receives = int(record.attributes.approximate_receive_count or 1)
            reason = f"{type(error).__name__}: {error}"
            if receives >= self.max_receives:
                self._dead_letter(record, f"failed {receives} times; last: {reason}")
                return []
            logger.exception(
                "record failed; SQS will retry it",
                extra={"message_id": record.message_id, "receives": receives},
            )
            raise

    def process(self, ref: ObjectRef) -> Result:
        """One upload, acted on at most once however often its notification is delivered:
        keyed on its delivery id (the version, or S3's sequencer, ETag and event time), so a
        re-upload of the same bytes to the same key is judged as the new upload it is."""
        ref = self.pipeline.identify(ref)
        logger.set_correlation_id(f"{ref.uri}@{ref.identity}")
        data = {**ref.to_dict(), "version": ref.delivery_id}
        self._ran = False
        result = Result.from_dict(self._process_once(obj=data))
        # A delivery seen before, whose upload was removed. Without a version id a new PUT of
        # the same bytes may carry the same delivery id (moto's EventBridge events: a constant
        # sequencer, the time to the second): if the object is back, it is judged. The
        # lifecycle removes it again; a true redelivery finds it gone and does nothing.
        repeated_removal = not self._ran and result.outcome is Outcome.QUARANTINED
        if repeated_removal and not ref.version_id and self.pipeline.present(ref):
            result = self.pipeline.process(ref)
        self._count(result)
        return result

    def _process(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._ran = True
        return self.pipeline.process(ObjectRef.from_dict(obj)).to_dict()

    def _count(self, result: Result) -> None:
        self.metrics.add_metric(name="ObjectsProcessed", unit=MetricUnit.Count, value=1)
        if result.outcome is Outcome.QUARANTINED:
            self.metrics.add_metric(name="ObjectsQuarantined", unit=MetricUnit.Count, value=1)
        for stage, millis in result.timings.items():
            self.metrics.add_metric(
                name=f"{stage.capitalize()}Latency", unit=MetricUnit.Milliseconds, value=millis
            )
        # One compact line an object (the case holds the rest): logs are billed by the byte.
        logger.info(
            "object processed",
            extra={
                "outcome": result.outcome.value,
                "action": result.verdict.action.value if result.verdict else None,
                "tenant_id": result.tenant_id,
                "case_id": result.case_id,
                "timings_ms": {k: round(v, 1) for k, v in result.timings.items()},
            },
        )

    def _dead_letter(self, record: SQSRecord, reason: str) -> None:
        logger.error("dead-lettered", extra={"message_id": record.message_id, "reason": reason})
        self.dead_letter(
            record.body,
            {
                REASON_ATTRIBUTE: reason[:1000],
                "cordon-source-queue": record.event_source_arn or "",
                "cordon-message-id": record.message_id,
            },
        )
