"""Every setting Cordon reads, from environment variables, in one place.

`.chalice/config.json` sets them for the deployed Lambdas; the local stack and the tests set
them for the process. Resource names default to the ones `infra/resources.json` declares.

Environment variables
---------------------
CORDON_HASHES_TABLE, CORDON_CASES_TABLE, CORDON_TENANTS_TABLE, CORDON_IDEMPOTENCY_TABLE
    DynamoDB tables.
CORDON_EVIDENCE_BUCKET
    The locked quarantine (evidence) bucket.
CORDON_INDEX_BUCKET
    Where `cordon index snapshot` stores the PDQ index snapshot a cold container starts from
    (`pdq/snapshot.bin`). Unset: a cold container builds its index from the hash table.
CORDON_INGEST_QUEUE, CORDON_INGEST_DLQ
    Names of the ingest queue and its dead-letter queue.
CORDON_UPLOADS_TOPIC_ARN
    The SNS topic tenant buckets may publish their notifications to (S3 -> SNS -> SQS).
CORDON_REVIEW_STATE_MACHINE_ARN, CORDON_REVIEW_QUEUE, CORDON_TENANT_NOTICES_TOPIC_ARN
    The review workflow, the queue its steps that need code go through, and the topic that
    tells tenants of escalations and decisions.
CORDON_REVIEW_TOPIC_ARN
    The topic that tells reviewers a case waits for them (the review worker publishes it once
    the case can be decided).
CORDON_HASH_UPDATES_TOPIC_ARN, CORDON_HASHES_STREAM_ARN
    The topic every change to the shared hash table is published on (tenants subscribe to it),
    and the table's stream that feeds it.
CORDON_WEBHOOK_DLQ
    The queue where webhook deliveries that kept failing wait for `cordon dlq redrive`.
CORDON_HASH_UPDATES_DLQ
    The hash stream's on-failure destination, where the stream handler also parks a record
    it cannot read, with the reason.
CORDON_DISPUTE_THRESHOLD
    How many tenants (other than its source) must dispute a shared hash before it stops
    triggering automatic takedowns anywhere (REVIEW only) and its source is told.
CORDON_FLOOD_LIMIT, CORDON_FLOOD_WINDOW_SECONDS
    The flood guard: a shared hash matching more than this many objects, across tenants,
    within one window is held (REVIEW only) until an operator clears it.
CORDON_MAX_OBJECT_BYTES
    Objects larger than this are never read into memory: exact hashes are streamed.
CORDON_MAX_IMAGE_PIXELS
    Images with more pixels are not decoded (decompression-bomb guard).
CORDON_PDQ_DISTANCE (CORDON_<TYPE>_DISTANCE)
    The match distance of a perceptual signal type for tenants whose policy sets none (PDQ:
    bits of 256, 31 if unset); a tenant's own distance wins. Read for any type by its name.
CORDON_INDEX_MAX_AGE_SECONDS
    How stale a warm container's PDQ index may get before it asks the table whether it changed.
CORDON_MAX_RECEIVES
    Deliveries of one message before Cordon dead-letters it itself, with its reason.
CORDON_IDEMPOTENCY_TTL_SECONDS
    How long a processed object version is remembered by the idempotency layer.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

# `CORDON_PDQ_DISTANCE` and its kind: a signal type's deployment-wide match distance. Read by
# pattern, so a new perceptual type gets its setting without a line here.
_DISTANCE_VARIABLE = re.compile(r"CORDON_([A-Z0-9]+)_DISTANCE")


@dataclass(frozen=True)
class Settings:
    hashes_table: str = "cordon-hashes"
    cases_table: str = "cordon-cases"
    tenants_table: str = "cordon-tenants"
    idempotency_table: str = "cordon-idempotency"
    evidence_bucket: str = "cordon-evidence"
    index_bucket: str = ""
    ingest_queue: str = "cordon-ingest"
    ingest_dlq: str = "cordon-ingest-dlq"
    uploads_topic_arn: str = ""
    review_state_machine_arn: str = ""
    review_queue: str = "cordon-review-work"
    tenant_notices_topic_arn: str = ""
    review_topic_arn: str = ""
    hash_updates_topic_arn: str = ""
    # Chalice needs a stream ARN when it builds the app; the deployed one comes from the
    # template (the merge template replaces it), the local one from the environment.
    hashes_stream_arn: str = (
        "arn:aws:dynamodb:us-east-1:123456789012:table/cordon-hashes/stream/latest"
    )
    webhook_dlq: str = "cordon-webhook-dlq"
    hash_updates_dlq: str = "cordon-hash-updates-dlq"
    dispute_threshold: int = 2
    flood_limit: int = 100
    flood_window_seconds: int = 600
    max_object_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 64_000_000
    # Signal type name -> match distance, from CORDON_<TYPE>_DISTANCE; a type absent here
    # matches within its own default (`chalicelib.policy.match_distances`).
    match_distances: dict[str, int] = field(default_factory=dict)
    index_max_age_seconds: float = 5.0
    max_receives: int = 3
    idempotency_ttl_seconds: int = 30 * 24 * 3600

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        default = cls()

        def text(name: str, fallback: str) -> str:
            return env.get(name) or fallback

        def number(name: str, fallback: float) -> float:
            raw = env.get(name)
            return float(raw) if raw else fallback

        return cls(
            hashes_table=text("CORDON_HASHES_TABLE", default.hashes_table),
            cases_table=text("CORDON_CASES_TABLE", default.cases_table),
            tenants_table=text("CORDON_TENANTS_TABLE", default.tenants_table),
            idempotency_table=text("CORDON_IDEMPOTENCY_TABLE", default.idempotency_table),
            evidence_bucket=text("CORDON_EVIDENCE_BUCKET", default.evidence_bucket),
            index_bucket=text("CORDON_INDEX_BUCKET", default.index_bucket),
            ingest_queue=text("CORDON_INGEST_QUEUE", default.ingest_queue),
            ingest_dlq=text("CORDON_INGEST_DLQ", default.ingest_dlq),
            uploads_topic_arn=text("CORDON_UPLOADS_TOPIC_ARN", default.uploads_topic_arn),
            review_state_machine_arn=text(
                "CORDON_REVIEW_STATE_MACHINE_ARN", default.review_state_machine_arn
            ),
            review_queue=text("CORDON_REVIEW_QUEUE", default.review_queue),
            tenant_notices_topic_arn=text(
                "CORDON_TENANT_NOTICES_TOPIC_ARN", default.tenant_notices_topic_arn
            ),
            review_topic_arn=text("CORDON_REVIEW_TOPIC_ARN", default.review_topic_arn),
            hash_updates_topic_arn=text(
                "CORDON_HASH_UPDATES_TOPIC_ARN", default.hash_updates_topic_arn
            ),
            hashes_stream_arn=text("CORDON_HASHES_STREAM_ARN", default.hashes_stream_arn),
            webhook_dlq=text("CORDON_WEBHOOK_DLQ", default.webhook_dlq),
            hash_updates_dlq=text("CORDON_HASH_UPDATES_DLQ", default.hash_updates_dlq),
            dispute_threshold=int(number("CORDON_DISPUTE_THRESHOLD", default.dispute_threshold)),
            flood_limit=int(number("CORDON_FLOOD_LIMIT", default.flood_limit)),
            flood_window_seconds=int(
                number("CORDON_FLOOD_WINDOW_SECONDS", default.flood_window_seconds)
            ),
            max_object_bytes=int(number("CORDON_MAX_OBJECT_BYTES", default.max_object_bytes)),
            max_image_pixels=int(number("CORDON_MAX_IMAGE_PIXELS", default.max_image_pixels)),
            match_distances={
                found.group(1).lower(): int(raw)
                for name, raw in env.items()
                if raw and (found := _DISTANCE_VARIABLE.fullmatch(name))
            },
            index_max_age_seconds=number(
                "CORDON_INDEX_MAX_AGE_SECONDS", default.index_max_age_seconds
            ),
            max_receives=int(number("CORDON_MAX_RECEIVES", default.max_receives)),
            idempotency_ttl_seconds=int(
                number("CORDON_IDEMPOTENCY_TTL_SECONDS", default.idempotency_ttl_seconds)
            ),
        )
