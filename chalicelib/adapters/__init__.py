"""Thin adapters over AWS, one per resource; each takes its boto3 client or table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

# DynamoDB's BatchGetItem takes at most this many keys a request.
BATCH_GET_KEYS = 100


def batch_get(
    table: Any, keys: Sequence[dict[str, Any]], consistent: bool = False
) -> Iterator[dict[str, Any]]:
    """The items of `table` under `keys` (those that exist, in no particular order), read in
    as few BatchGetItem requests as the limit allows, unprocessed keys asked again."""
    client = table.meta.client
    for start in range(0, len(keys), BATCH_GET_KEYS):
        batch = list(keys[start : start + BATCH_GET_KEYS])
        request = {table.name: {"Keys": batch, "ConsistentRead": consistent}}
        while request:
            response = client.batch_get_item(RequestItems=request)
            yield from response["Responses"].get(table.name, [])
            request = response.get("UnprocessedKeys") or {}
