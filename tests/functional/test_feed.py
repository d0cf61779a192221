"""The delta feed: every change, in order, exactly once, from any cursor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalice.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as chalice_app
from chalicelib.feed import UpdateFeed
from chalicelib.models import HashRecord, Tenant
from tests.conftest import World

VALUES = [f"{n:064x}" for n in range(1, 6)]
ACTIONS = st.lists(
    st.tuples(st.sampled_from(VALUES), st.sampled_from(["active", "disputed", "retired"])),
    min_size=1,
    max_size=12,
)


def read_all(feed: UpdateFeed, cursor: int, limit: int) -> list[dict]:
    seen = []
    while True:
        page, cursor = feed.read(cursor, limit)
        if not page:
            return seen
        seen.extend(page)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    actions=ACTIONS,
    resume_at=st.integers(min_value=0, max_value=12),
    page=st.integers(min_value=1, max_value=5),
)
def test_any_interleaving_read_from_any_cursor_is_complete_ordered_and_unique(
    world: World, actions, resume_at, page
):
    feed = world.cordon.hashes.feed
    # The fixture's table lives across examples: start from what is already there.
    base = read_all(feed, 0, 1000)
    origin = base[-1]["seq"] if base else 0
    expected = []
    existing = world.cordon.hashes.get_many([("pdq", v) for v in VALUES])
    status = {value: record.status for (_, value), record in existing.items()}
    for value, wanted in actions:
        world.cordon.hashes.put([HashRecord("pdq", value, status=wanted)])
        before = status.get(value)
        change = (
            "added"
            if before is None
            else "changed"
            if before == wanted
            else {"disputed": "disputed", "retired": "retired"}.get(wanted, "reactivated")
        )
        expected.append((value, wanted, change))
        status[value] = wanted
    cursor = origin + min(resume_at, len(actions))
    got = read_all(feed, cursor, page)
    assert [(e["value"], e["status"], e["change"]) for e in got] == expected[cursor - origin :]
    assert [e["seq"] for e in got] == list(range(cursor + 1, origin + len(actions) + 1))


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shares=st.lists(
        st.tuples(st.sampled_from(VALUES), st.sampled_from(["all", "groups", "private"])),
        min_size=1,
        max_size=10,
    ),
    resume_at=st.integers(min_value=0, max_value=10),
    page=st.integers(min_value=1, max_value=4),
)
def test_each_reader_sees_exactly_what_is_shared_with_it_in_order(
    world: World, shares, resume_at, page
):
    feed = world.cordon.hashes.feed
    _, origin = feed.read(0, 100_000)
    for value, visibility in shares:
        world.cordon.hashes.put(
            [HashRecord("pdq", value, source="alpha", visibility=visibility, groups=("eu",))]
        )
    cursor = origin + min(resume_at, len(shares))
    readers = {
        "alpha": Tenant("alpha"),
        "beta": Tenant("beta", groups=("eu",)),
        "gamma": Tenant("gamma"),
    }
    admitted = {
        "alpha": {"all", "groups", "private"},
        "beta": {"all", "groups"},
        "gamma": {"all"},
    }
    for name, reader in readers.items():
        seen, at = [], cursor
        while True:
            entries, following = feed.read(at, page, reader=reader)
            seen.extend(entries)
            if following == at:
                break
            at = following
        expected = [
            (value, visibility)
            for value, visibility in shares[cursor - origin :]
            if visibility in admitted[name]
        ]
        assert [(e["value"], e["visibility"]) for e in seen] == expected, name
        assert at == origin + len(shares)  # every reader's cursor ends at the same place


def test_a_hole_holds_the_cursor_until_filled_or_abandoned(world: World):
    feed = world.cordon.hashes.feed
    world.cordon.hashes.put([HashRecord("pdq", VALUES[0])])
    hole = feed.allocate(1)  # a writer between the counter and its item
    world.cordon.hashes.put([HashRecord("pdq", VALUES[1])])
    page, cursor = feed.read(0, 10)
    assert [e["value"] for e in page] == [VALUES[0]] and cursor == hole - 1
    later = datetime.now(UTC) + timedelta(seconds=61)
    page, cursor = feed.read(cursor, 10, now=later)
    assert [e["value"] for e in page] == [VALUES[1]] and cursor == hole + 1


def test_feed_over_http(world: World):
    world.tenant("alpha", "alpha-uploads")
    key = world.reviewer("alpha", "rev-ana")
    world.cordon.hashes.put(
        [
            HashRecord("pdq", VALUES[0], ("x",)),
            HashRecord("pdq", VALUES[0], ("x",), status="retired"),
        ]
    )
    headers = {"Authorization": f"Bearer {key}"}
    with Client(chalice_app.app) as client:
        first = client.http.get("/hashes/feed?cursor=0&limit=1", headers=headers).json_body
        second = client.http.get(
            f"/hashes/feed?cursor={first['cursor']}", headers=headers
        ).json_body
        assert client.http.get("/hashes/feed").status_code == 401
        assert client.http.get("/hashes/feed?cursor=x", headers=headers).status_code == 400
    assert [u["change"] for u in first["updates"]] == ["added"] and first["more"]
    assert [u["change"] for u in second["updates"]] == ["retired"] and not second["more"]
    assert json.dumps(second)  # plain JSON all through
