"""What the operator's commands do, apart from printing: register tenants, wire buckets,
import hashes. Used by `cordon` and by the demo."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chalicelib.models import HashRecord, Policy, Tenant
from chalicelib.signals import SIGNAL_TYPES
from chalicelib.wiring import Cordon

NOTIFICATION_ID = "cordon-ingest"
VIA = ("sqs", "sns", "eventbridge")


def wire_bucket(cordon: Cordon, bucket: str, via: str) -> None:
    """Send the bucket's ObjectCreated notifications to Cordon, keeping its other ones."""
    s3 = cordon.s3
    config = s3.get_bucket_notification_configuration(Bucket=bucket)
    config.pop("ResponseMetadata", None)
    for kind in ("QueueConfigurations", "TopicConfigurations"):
        config[kind] = [c for c in config.get(kind, []) if c.get("Id") != NOTIFICATION_ID]
    events = ["s3:ObjectCreated:*"]
    if via == "sqs":
        url = cordon.sqs.get_queue_url(QueueName=cordon.settings.ingest_queue)["QueueUrl"]
        arn = cordon.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        config["QueueConfigurations"].append(
            {"Id": NOTIFICATION_ID, "QueueArn": arn, "Events": events}
        )
    elif via == "sns":
        if not cordon.settings.uploads_topic_arn:
            raise ValueError("CORDON_UPLOADS_TOPIC_ARN is not set: no uploads topic to wire to")
        config["TopicConfigurations"].append(
            {"Id": NOTIFICATION_ID, "TopicArn": cordon.settings.uploads_topic_arn, "Events": events}
        )
    elif via == "eventbridge":
        config["EventBridgeConfiguration"] = {}
    else:
        raise ValueError(f"--via must be one of {VIA}")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            k: v for k, v in config.items() if v or k == "EventBridgeConfiguration"
        },
    )


def add_tenant(
    cordon: Cordon,
    tenant_id: str,
    buckets: list[str],
    via: str = "sqs",
    policy: Policy | None = None,
    create_buckets: bool = False,
) -> Tenant:
    for bucket in buckets:
        if create_buckets:
            cordon.s3.create_bucket(Bucket=bucket)
        wire_bucket(cordon, bucket, via)
    return cordon.tenants.add(tenant_id, buckets, policy)


def read_hash_file(path: Path, source: str = "import") -> Iterator[HashRecord]:
    """Hash records from JSON lines or CSV (columns signal_type, value, labels).

    Labels: a JSON list, or a CSV cell with labels separated by ';'.
    """
    text = path.read_text()
    stripped = text.lstrip()
    if stripped.startswith("{"):
        rows: Iterator[dict[str, Any]] = (
            json.loads(line) for line in text.splitlines() if line.strip()
        )
    else:
        rows = csv.DictReader(io.StringIO(text))
    for number, row in enumerate(rows, start=1):
        signal_type = (row.get("signal_type") or "").strip().lower()
        if signal_type not in SIGNAL_TYPES:
            raise ValueError(f"{path}:{number}: unknown signal type {signal_type!r}")
        labels = row.get("labels") or []
        if isinstance(labels, str):
            labels = [label.strip() for label in labels.split(";") if label.strip()]
        yield HashRecord(
            signal_type=signal_type,
            value=SIGNAL_TYPES[signal_type].validate(str(row.get("value", ""))),
            labels=tuple(labels),
            source=row.get("source") or source,
        )


def import_hashes(cordon: Cordon, path: Path, source: str = "import") -> int:
    return cordon.hashes.put(list(read_hash_file(path, source)))
