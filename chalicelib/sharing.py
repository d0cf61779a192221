"""Hash updates, fanned out to subscribers from the hash table's DynamoDB Stream.

Every change to a shared hash (added, changed, disputed, retired, removed) becomes one
`HashUpdate`, published on the hash-updates SNS topic with message attributes (`signal_type`,
`change`, `labels`, `source`), so each tenant subscribes an SQS queue with a filter policy
(for example `{"signal_type": ["pdq"], "change": ["added"]}`) and gets only what it wants.
The table's own bookkeeping items (sequence counters) are not updates and are dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

from chalicelib import logs, webhooks
from chalicelib.adapters.streams import item_images, sequence_number
from chalicelib.errors import REASON_ATTRIBUTE, MalformedEventError
from chalicelib.models import Tenant, Visibility, audience_tags, tenant_tags
from chalicelib.updates import HashUpdate, WebhookSubscription, change_between
from chalicelib.webhooks import DeliveryResult, WebhookDeadLetters


def change_of(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The change between two images of a hash item, as the delta feed names it."""
    if not new:
        return "removed"
    return change_between(old.get("status", "active") if old else None, new.get("status", "active"))


# Tenants' opinions change the item without being an update of the hash: a dispute that
# changes its status is (the status says so).
OPINION_FIELDS = frozenset({"disputes", "endorsements"})


def _without_opinions(image: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in image.items() if k not in OPINION_FIELDS}


def update_from_record(record: Any) -> HashUpdate | None:
    """The hash update one stream record holds; None for bookkeeping items and changes of
    opinions alone. A field of the wrong type raises `MalformedEventError`: retrying the
    record cannot change what it holds."""
    old, new = item_images(record)
    item = new or old
    if not item or str(item.get("signal_type", "")).startswith("_"):
        return None  # counters and other bookkeeping
    if old and new and _without_opinions(old) == _without_opinions(new):
        return None
    try:
        return HashUpdate(
            change=change_of(old, new),
            signal_type=_text(item, "signal_type"),
            value=_text(item, "value"),
            labels=_texts(item, "labels"),
            source=_text(item, "source", ""),
            status=_text(item, "status", "active"),
            seq=int(item["seq"]) if item.get("seq") is not None else None,
            case_id=_text(item, "case_id", None),
            visibility=Visibility(item.get("visibility", Visibility.ALL)),
            groups=tuple(sorted(_texts(item, "groups"))),
            variant=_text(item, "variant", "original"),
            variant_of=_text(item, "variant_of", None),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise MalformedEventError(f"hash item does not read: {error!r:.200}") from error


# SQS takes 256 KiB a message; a stream record holds up to two 400 KB images.
PARKED_BODY_LIMIT = 200_000


def _parked_body(record: Any) -> str:
    body = json.dumps(record, default=str)
    if len(body) <= PARKED_BODY_LIMIT:
        return body
    stream = record.get("dynamodb", {}) if isinstance(record, dict) else {}
    keys = stream.get("Keys") if isinstance(stream, dict) else None
    # Too big to park whole: its keys and place, by which the table and stream still find it.
    return json.dumps({"truncated": True, "Keys": keys, "eventID": record.get("eventID")})


_REQUIRED: Any = object()


def _text(item: dict[str, Any], name: str, default: Any = _REQUIRED) -> Any:
    value = item.get(name)
    if value is None and default is not _REQUIRED:
        return default
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} is {value!r:.80}, not a non-empty string")
    return value


def _texts(item: dict[str, Any], name: str) -> tuple[str, ...]:
    values = item.get(name) or ()
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{name} is {values!r:.80}, not a list of strings")
    return tuple(values)


class StreamDeadLetters(Protocol):
    """Where a stream record nobody can read is parked with its reason (the hash-updates
    DLQ, which the stream's on-failure destination also writes to)."""

    def send(self, body: str, attributes: Mapping[str, str]) -> str: ...


def handle_stream_batch(
    records: Sequence[Any],
    publish: Callable[[HashUpdate], None],
    after: Callable[[list[HashUpdate]], dict[str, int]],
    dead_letters: StreamDeadLetters,
) -> dict[str, Any]:
    """One stream batch, record by record, with Lambda's partial batch response.

    A record that does not read is parked with its reason and passed over; the first record
    whose update cannot be published is reported (`itemIdentifier`: its SequenceNumber) and
    nothing after it is published, since Lambda retries from the lowest one reported.
    `after` (webhooks, the retro-scan) gets the updates published."""
    published: list[HashUpdate] = []
    malformed = 0
    failed: str | None = None
    for record in records:
        number = sequence_number(record)
        try:
            update = update_from_record(record)
        except MalformedEventError as error:
            reason = f"malformed stream record: {error}"
            logs.logger.error("stream record parked", extra={"sequence": number, "reason": reason})
            try:
                dead_letters.send(
                    _parked_body(record),
                    {REASON_ATTRIBUTE: reason[:1000], "cordon-sequence-number": number or ""},
                )
            except Exception:
                if number is None:
                    raise  # nothing to name: the whole batch is retried
                logs.logger.exception("could not park a stream record")
                failed = number
                break
            malformed += 1
            continue
        if update is None:
            continue
        try:
            publish(update)
        except Exception:
            if number is None:
                raise
            logs.logger.exception("hash update not published", extra={"sequence": number})
            failed = number
            break
        published.append(update)
    counts = after(published) if published else {}
    failures = [{"itemIdentifier": failed}] if failed else []
    return {
        "batchItemFailures": failures,
        "published": len(published),
        "malformed": malformed,
        **counts,
    }


class UpdatesTopic(Protocol):
    """The hash-updates SNS topic (`chalicelib.adapters.topics.Topic`); a list attribute goes
    as a String.Array."""

    def publish(
        self, message: Mapping[str, Any], attributes: Mapping[str, str | list[str]]
    ) -> None: ...


class UpdatePublisher:
    """Publishes hash updates on the SNS topic tenants subscribe to."""

    def __init__(self, topic: UpdatesTopic) -> None:
        self.topic = topic

    def publish(self, update: HashUpdate) -> None:
        attributes: dict[str, str | list[str]] = {
            "signal_type": update.signal_type,
            "change": update.change,
            "source": update.source or "-",
            # Who may receive it: each tenant's subscription requires one of its own tags.
            "audience": audience_tags(update.visibility, update.groups, update.source),
        }
        if update.labels:
            attributes["labels"] = list(update.labels)
        self.topic.publish(update.to_dict(), attributes)


def subscription_filter(tenant: Tenant, wanted: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SNS filter policy of a tenant's subscription: what it asked for (`wanted`, on
    signal_type, change, labels, source), and never more than it may see (`audience`)."""
    return {**(wanted or {}), "audience": tenant_tags(tenant)}


def webhook_payload(updates: Sequence[HashUpdate]) -> tuple[str, dict[str, Any]]:
    """The body of one delivery and its event id: the same for the same updates, so a stream
    batch retried by Lambda is recognised by receivers as a repeat."""
    payload = {"kind": "cordon.hash_updates", "updates": [u.to_dict() for u in updates]}
    keys = json.dumps([[u.signal_type, u.value, u.change, u.seq, u.status] for u in updates])
    return "hu_" + hashlib.sha256(keys.encode()).hexdigest()[:32], payload


def deliver_webhooks(
    updates: Sequence[HashUpdate],
    subscriptions: Iterable[WebhookSubscription],
    dead_letters: WebhookDeadLetters | None,
    post: Callable[..., DeliveryResult] | None = None,
) -> dict[str, int]:
    """One signed POST a subscribed tenant with the updates of a stream batch it may see;
    deliveries that keep failing are parked on the webhook DLQ (or raised, with none)."""
    # A few quick attempts inside the stream Lambda; what still fails waits in the DLQ for
    # `cordon dlq redrive`, rather than holding the whole stream back.
    send = post or partial(webhooks.deliver, attempts=3, base_delay=0.5, max_delay=5.0)
    counts = {"delivered": 0, "dead_lettered": 0}
    for subscription in subscriptions:
        wanted = [u for u in updates if subscription.wants(u)]
        if not wanted:
            continue
        event_id, payload = webhook_payload(wanted)
        secrets = [secret.encode() for secret in subscription.secrets]
        result = send(subscription.url, secrets, event_id, payload)
        if result.delivered:
            counts["delivered"] += 1
            continue
        logs.logger.warning(
            "webhook delivery failed",
            extra={"tenant_id": subscription.tenant.tenant_id, "error": result.error},
        )
        if dead_letters is None:
            raise RuntimeError(f"webhook to {subscription.url} failed: {result.error}")
        dead_letters.send(subscription.url, event_id, payload, result)
        counts["dead_lettered"] += 1
    return counts
