"""The delta feed of shared hashes: every change, in order, read from a cursor.

An append-only log in the hash table itself (`chalicelib.adapters.feed`), written by
`HashTable.put` alongside each change, numbered from one counter. A reader passes the last
sequence number it saw and gets what came after, in order, removals (retired) and disputes
included, so a tenant that was away for a week catches up exactly.

No gap, no duplicate: numbers are handed out before the entries are written, so a reader may
see number 12 before 11 exists. It then stops before the hole and its cursor stays at 10; the
next read picks up 11 and 12 together. A hole older than `ABANDONED_GAP_SECONDS` (a writer that
died between counter and item) is stepped over.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.models import Tenant, audience_admits

ABANDONED_GAP_SECONDS = 60.0


class FeedEntries(Protocol):
    """Where the feed's entries are kept (`chalicelib.adapters.feed.FeedLog`)."""

    def allocate(self, count: int) -> int: ...

    def after(self, cursor: int, limit: int) -> list[dict[str, Any]]: ...


class UpdateFeed:
    def __init__(self, entries: FeedEntries) -> None:
        self.entries = entries

    def allocate(self, count: int) -> int:
        """Reserve `count` feed numbers; returns the first."""
        return self.entries.allocate(count)

    def read(
        self,
        cursor: int = 0,
        limit: int = 100,
        now: datetime | None = None,
        reader: Tenant | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Entries after `cursor`, in order, without a hole; and the cursor to read from next.

        A `reader` gets only the entries it may see; the cursor moves past the others too, so
        one page may hold fewer than `limit` entries and still not be the last."""
        now = now or datetime.now(UTC)
        entries: list[dict[str, Any]] = []
        expected = cursor + 1
        for entry in self.entries.after(cursor, limit):
            seq = entry["seq"]
            if seq != expected:
                age = (now - datetime.fromisoformat(entry["at"])).total_seconds()
                if age < ABANDONED_GAP_SECONDS:
                    break  # a writer may still fill the hole: come back for it
            entries.append(entry)
            expected = seq + 1
        next_cursor = entries[-1]["seq"] if entries else cursor
        if reader is not None:
            entries = [
                e
                for e in entries
                if audience_admits(e["visibility"], e["groups"], e["source"], reader)
            ]
        return entries, next_cursor
