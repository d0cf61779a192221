"""The sharing services on in-memory fakes of their ports: no moto, no network.

The adapters behind these ports (`adapters/queues.py`, `topics.py`, `feed.py`) are tested
against moto through `tests/functional/`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.feed import ABANDONED_GAP_SECONDS, UpdateFeed
from chalicelib.models import Tenant
from chalicelib.sharing import UpdatePublisher, deliver_webhooks
from chalicelib.updates import HashUpdate, WebhookSubscription
from chalicelib.webhooks import REASON_ATTRIBUTE, URL_ATTRIBUTE, DeliveryResult, WebhookDeadLetters

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []

    def send(self, body: str, attributes: Mapping[str, str]) -> str:
        self.sent.append((body, dict(attributes)))
        return f"m-{len(self.sent)}"


class FakeTopic:
    def __init__(self) -> None:
        self.published: list[tuple[Mapping[str, Any], Mapping[str, str | list[str]]]] = []

    def publish(
        self, message: Mapping[str, Any], attributes: Mapping[str, str | list[str]]
    ) -> None:
        self.published.append((message, attributes))


class FakeFeedEntries:
    """The feed's log as a list: entries in seq order, a hole where a writer is late."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.top = max((e["seq"] for e in entries), default=0)

    def allocate(self, count: int) -> int:
        self.top += count
        return self.top - count + 1

    def after(self, cursor: int, limit: int) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["seq"] > cursor][:limit]


def update(value: str, **fields: Any) -> HashUpdate:
    base: dict[str, Any] = {
        "change": "added",
        "signal_type": "pdq",
        "labels": ("propaganda",),
        "source": "alpha",
        "status": "active",
        "seq": 1,
    }
    return HashUpdate(value=value, **{**base, **fields})


def entry(seq: int, age_seconds: float, **fields: Any) -> dict[str, Any]:
    written = NOW - timedelta(seconds=age_seconds)
    return {
        "seq": seq,
        "value": f"{seq:064x}",
        "visibility": "all",
        "groups": [],
        "source": "alpha",
        "at": written.isoformat(),
        **fields,
    }


# --- webhook delivery ---------------------------------------------------------------------


def test_a_failed_delivery_is_parked_with_its_reason_and_a_good_one_is_not():
    # GIVEN beta's endpoint is down, gamma's is up, and both want PDQ updates
    beta = WebhookSubscription(Tenant("beta"), "https://beta.example/hooks", ("s-beta",))
    gamma = WebhookSubscription(Tenant("gamma"), "https://gamma.example/hooks", ("s-gamma",))
    failure = DeliveryResult(False, 3, 503, "HTTP 503: gave up after 3 attempts")
    posted: list[tuple[str, list[bytes]]] = []

    def post(url: str, secrets: list[bytes], event_id: str, payload: dict) -> DeliveryResult:
        posted.append((url, secrets))
        return failure if "beta" in url else DeliveryResult(True, 1, 200)

    queue = FakeQueue()
    # WHEN one stream batch is delivered
    counts = deliver_webhooks([update("f" * 64)], [beta, gamma], WebhookDeadLetters(queue), post)
    # THEN each was posted once with its own secret, and only beta's waits on the queue
    assert counts == {"delivered": 1, "dead_lettered": 1}
    assert posted == [(beta.url, [b"s-beta"]), (gamma.url, [b"s-gamma"])]
    ((body, attributes),) = queue.sent
    assert attributes[REASON_ATTRIBUTE] == failure.error
    assert attributes[URL_ATTRIBUTE] == beta.url
    assert attributes["cordon-attempts"] == "3" and attributes["cordon-last-status"] == "503"
    parked = json.loads(body)
    assert parked["kind"] == "cordon.webhook" and parked["url"] == beta.url
    assert [u["value"] for u in parked["payload"]["updates"]] == ["f" * 64]


def test_a_tenant_is_not_posted_what_it_may_not_see():
    beta = WebhookSubscription(Tenant("beta"), "https://beta.example/hooks", ("s",))
    queue = FakeQueue()

    def post(*args: Any) -> DeliveryResult:
        raise AssertionError("nothing beta may see")

    private = update("e" * 64, visibility="private")
    assert deliver_webhooks([private], [beta], WebhookDeadLetters(queue), post) == {
        "delivered": 0,
        "dead_lettered": 0,
    }
    assert queue.sent == []


# --- SNS fan-out ----------------------------------------------------------------------------


def test_an_update_is_published_with_the_attributes_filter_policies_match():
    topic = FakeTopic()
    shared = update("d" * 64, visibility="groups", groups=("eu",), source="")
    UpdatePublisher(topic).publish(shared)
    UpdatePublisher(topic).publish(update("c" * 64, labels=()))

    (message, attributes), (_, unlabelled) = topic.published
    assert message == shared.to_dict()
    assert attributes == {
        "signal_type": "pdq",
        "change": "added",
        "source": "-",  # SNS refuses an empty string attribute
        "audience": ["group:eu", "tenant:"],
        "labels": ["propaganda"],
    }
    assert "labels" not in unlabelled and unlabelled["audience"] == ["all"]


# --- the delta feed -------------------------------------------------------------------------


def test_the_feed_stops_before_a_fresh_hole_and_steps_over_an_old_one():
    # GIVEN entries 1 and 3 written, 2 reserved by a writer that has not written it yet
    entries = FakeFeedEntries([entry(1, 5), entry(3, 5)])
    feed = UpdateFeed(entries)
    # WHEN read now, the cursor stays before the hole
    page, cursor = feed.read(0, 10, now=NOW)
    assert [e["seq"] for e in page] == [1] and cursor == 1
    # THEN once the hole is older than a writer could take, it is stepped over
    later = NOW + timedelta(seconds=ABANDONED_GAP_SECONDS)
    page, cursor = feed.read(cursor, 10, now=later)
    assert [e["seq"] for e in page] == [3] and cursor == 3
    assert feed.allocate(2) == 4


def test_a_reader_skips_what_it_may_not_see_and_its_cursor_moves_past_it():
    entries = FakeFeedEntries(
        [entry(1, 5), entry(2, 5, visibility="private"), entry(3, 5, visibility="private")]
    )
    page, cursor = UpdateFeed(entries).read(0, 10, now=NOW, reader=Tenant("beta"))
    assert [e["seq"] for e in page] == [1] and cursor == 3
    page, cursor = UpdateFeed(entries).read(0, 10, now=NOW, reader=Tenant("alpha"))
    assert [e["seq"] for e in page] == [1, 2, 3] and cursor == 3
