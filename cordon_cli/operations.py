"""What the operator's commands do, apart from printing: register tenants, wire buckets,
import hashes. Used by `cordon` and by the demo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.models import (
    ACTIVE,
    DISPUTED,
    HELD,
    RETIRED,
    HashRecord,
    Policy,
    Tenant,
    Visibility,
    now_iso,
)
from cordon_cli import hashlists

if TYPE_CHECKING:
    from chalicelib.wiring import Cordon

# boto3, numpy and PIL are imported by the functions that need them: `cordon --help` reads
# VIA from here and should not pay for them.

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
    groups: list[str] | None = None,
) -> Tenant:
    for bucket in buckets:
        if create_buckets:
            cordon.s3.create_bucket(Bucket=bucket)
        wire_bucket(cordon, bucket, via)
    return cordon.tenants.add(tenant_id, buckets, policy, groups)


def subscribe_queue(
    cordon: Cordon, name: str, topic_arn: str, filter_policy: dict[str, Any] | None = None
) -> str:
    """A tenant's SQS queue subscribed to one of Cordon's topics (hash updates, notices),
    with an SNS filter policy on the message attributes; returns the queue's URL."""
    url = cordon.sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = cordon.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    cordon.client("sns").subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes
    )
    return url


def read_hash_file(
    path: Path, source: str = "import", signal_type: str | None = None
) -> hashlists.Parsed:
    """Hash records from a list: JSON lines or a JSON array, CSV (with or without a header:
    signal_type, value, labels split on ';'), ThreatExchange's plain `TYPE HASH` lines, or
    bare hashes (of `signal_type`, else of the type their length names). ValueError, naming
    the file, for one that is not such a list."""
    try:
        return hashlists.parse(hashlists.decode(path.read_bytes()), source, None, signal_type)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error


def import_hashes(
    cordon: Cordon,
    path: Path,
    source: str = "import",
    visibility: Visibility = Visibility.ALL,
    groups: list[str] | None = None,
    signal_type: str | None = None,
) -> hashlists.Parsed:
    parsed = read_hash_file(path, source, signal_type)
    shared = [
        replace(r, visibility=visibility.value, groups=tuple(groups or ())) for r in parsed.records
    ]
    cordon.hashes.put(shared)
    return replace(parsed, records=shared)


def shared_hashes(
    cordon: Cordon,
    include_retired: bool = False,
    viewer: Tenant | None = None,
    include_restricted: bool = False,
) -> Iterator[HashRecord]:
    """Entries of the shared table, type by type, in the order they were written: those in
    force (retired too if asked), and of those, what `viewer` may see, or with no viewer the
    ones shared with all tenants (group and private ones too with `include_restricted`)."""
    from chalicelib.adapters.hashes import record_from_item
    from chalicelib.signals import SIGNAL_TYPES

    for signal_type in SIGNAL_TYPES:
        for item in cordon.hashes.since(signal_type, 0):
            record = record_from_item(item)
            if record.status == RETIRED and not include_retired:
                continue
            if viewer is not None:
                shown = record.visible_to(viewer)
            else:
                shown = include_restricted or record.visibility == Visibility.ALL
            if shown:
                yield record


def release_hash(cordon: Cordon, signal_type: str, value: str) -> HashRecord:
    """An operator vouches for a hash the flood guard held: it is active again and never held
    again. Raises ValueError when it is not held."""
    from chalicelib.signals import SIGNAL_TYPES

    canonical = SIGNAL_TYPES[signal_type].validate(value)
    released = cordon.hashes.set_status(
        signal_type, canonical, ACTIVE, [HELD], flood_cleared=True, released_at=now_iso()
    )
    if released is None:
        raise ValueError(f"{signal_type} {canonical} is not held by the flood guard")
    return released


def retire_hash(cordon: Cordon, signal_type: str, value: str) -> HashRecord:
    """Take a shared hash out of matching everywhere (subscribers see `retired`). Raises
    ValueError when there is no such hash in force."""
    from chalicelib.signals import SIGNAL_TYPES

    canonical = SIGNAL_TYPES[signal_type].validate(value)
    retired = cordon.hashes.set_status(
        signal_type, canonical, RETIRED, [ACTIVE, DISPUTED, HELD], retired_at=now_iso()
    )
    if retired is None:
        raise ValueError(f"{signal_type} {canonical} is not a shared hash in force")
    for value in retired.stored_variants:  # its stored variants go with it
        cordon.hashes.set_status(
            signal_type, value, RETIRED, [ACTIVE, DISPUTED, HELD], retired_at=now_iso()
        )
    return retired
