"""The flood guard: a shared hash that suddenly matches too much is held for review.

A corrupt or too generic hash (a blank frame, a logo every page carries) would take down
everybody's content at once. Each object a shared hash matches is counted in a fixed window
(`window_seconds`), across tenants; the match that takes the count past `limit` moves the hash
to HELD: it keeps matching, for REVIEW only, until an operator clears it (`cordon hashes
release`), after which it is never held again. Counters are items of the hash table
(`signal_type` = "_flood"), expired by its TTL attribute. A retried object may be counted twice:
the guard errs towards holding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from chalicelib import logs
from chalicelib.adapters.hashes import HashTable
from chalicelib.models import ACTIVE, HELD, Match, now_iso

FLOOD_TYPE = "_flood"


class FloodGuard:
    def __init__(
        self,
        hashes: HashTable,
        counters: Any,
        limit: int,
        window_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.hashes = hashes  # to hold a hash: `set_status` also writes its feed entry
        self.counters = counters  # the hash table's boto3 Table, where the counters live
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock

    def count(self, matches: Sequence[Match]) -> set[tuple[str, str]]:
        """Count one more object for each active shared image among `matches` (a match with a
        crop stored beside an image counts for the image: a flood of crops holds it, and its
        crops with it); returns the hashes this count held (now HELD)."""
        now = self.clock()
        window = int(now // self.window_seconds) * self.window_seconds
        held: set[tuple[str, str]] = set()
        for key in dict.fromkeys(m.image_key for m in matches if m.status == ACTIVE):
            hits = self._hit(key, window, now)
            if hits > self.limit and self._hold(key, hits):
                held.add(key)
        return held

    def _hit(self, key: tuple[str, str], window: int, now: float) -> int:
        response: dict[str, Any] = self.counters.update_item(
            Key={"signal_type": FLOOD_TYPE, "value": f"{key[0]}:{key[1]}#{window}"},
            UpdateExpression="ADD hits :one SET expires_at = :expires",
            ExpressionAttributeValues={
                ":one": 1,
                ":expires": int(now) + 2 * self.window_seconds,
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["hits"])

    def _hold(self, key: tuple[str, str], hits: int) -> bool:
        # Never a hash an operator has vouched for (`flood_cleared` is only ever set, to
        # true): the write's own condition says so, without a read first.
        held = self.hashes.set_status(
            *key,
            HELD,
            expected=[ACTIVE],
            unless="flood_cleared",
            held_at=now_iso(),
            held_reason=(
                f"matched {hits} objects within {self.window_seconds} s (limit {self.limit})"
            ),
        )
        if held is not None:
            logs.count("HashesHeld", "sharing")
            logs.logger.error(
                "flood guard: shared hash held for review",
                extra={
                    "flood_guard": "tripped",
                    "signal_type": key[0],
                    "value": key[1],
                    "hits": hits,
                    "window_seconds": self.window_seconds,
                },
            )
        return held is not None
