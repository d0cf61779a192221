"""The shared hash table (DynamoDB) and the indexes a warm Lambda keeps of it: one for each
signal type that declares one (`SignalType.new_index`: PDQ's Hamming index).

Items: key (`signal_type`, `value`); labels, provenance (source, case, time), status, and `seq`,
a number per signal type that grows with every write. A sparse GSI `by_seq` (`feed`, `seq`)
reads the writes of one type in order: it is how a warm container catches up, and the base of
the tenants' delta feed. The counter of each type is the item (`_seq`, type).

Freshness: a container's index remembers the highest `seq` below which it has seen every item.
Before a query it reads the counter (one consistent GetItem) if it last did so more than
`max_age` seconds ago, and loads the items after its watermark through the GSI. A new hash is
therefore matchable everywhere within `max_age` seconds plus one batch.

Snapshots: with an index bucket (`CORDON_INDEX_BUCKET`), a cold container does not read the
whole table: on its first query it loads the snapshot `cordon index snapshot` last wrote
(`s3://{bucket}/{type}/snapshot.bin`, the index's own `to_bytes` format, fetched in parallel
ranged GETs), takes its watermark as its own, and catches up through the GSI from there as
above, so it is never staler than one that read the table from seq 0. The watermark, count and
bit length travel in the object's user metadata (`x-amz-meta-watermark`, `-count`, `-bits`,
`-format`), written in the same PUT as the body, so they cannot describe another version. A
missing, unreadable or inconsistent snapshot (wrong format, bits or count, a body `from_bytes`
refuses, an object replaced between two ranges) is logged as a warning and the container reads
the table from seq 0 as before. Items past the watermark may already be in a snapshot (the
writer read beyond it, or a hash was written again): values the container has not seen itself
are looked up exactly (distance 0) in the index before being added, so none is indexed twice.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import logs
from chalicelib.adapters import batch_get
from chalicelib.adapters.feed import COUNTER_TYPE, FeedLog, reserve
from chalicelib.index import HammingIndex
from chalicelib.models import (
    ACTIVE,
    REVIEW_ONLY_STATUSES,
    HashRecord,
    Visibility,
    now_iso,
)
from chalicelib.signals import SIGNAL_TYPES
from chalicelib.updates import change_between

SEQ_INDEX = "by_seq"
OPINION_TYPE = "_opinion"  # one item a tenant and hash: its latest opinion and reason
# A seq that was handed out but whose item never appeared (its writer died) stops holding
# the watermark back after this long.
ABANDONED_GAP_SECONDS = 60.0

SNAPSHOT_KEY = "{signal_type}/snapshot.bin"
SNAPSHOT_FORMAT = "cordon-hamming-index/1"
# A snapshot is fetched in ranges of this size over this many connections: one S3 connection
# carries about 90 MB/s, a 10M-hash snapshot is about 0.95 GB.
SNAPSHOT_PART_BYTES = 32 * 1024 * 1024
SNAPSHOT_CONNECTIONS = 8


def record_from_item(item: Mapping[str, Any]) -> HashRecord:
    return HashRecord(
        signal_type=item["signal_type"],
        value=item["value"],
        labels=tuple(item.get("labels", ())),
        source=item.get("source", "import"),
        case_id=item.get("case_id"),
        added_at=item.get("added_at"),
        status=item.get("status", "active"),
        confirmed_by=item.get("confirmed_by"),
        visibility=item.get("visibility", Visibility.ALL),
        groups=tuple(sorted(item.get("groups") or ())),
        disputes=tuple(sorted(item.get("disputes") or ())),
        endorsements=tuple(sorted(item.get("endorsements") or ())),
        flood_cleared=bool(item.get("flood_cleared", False)),
        variant=item.get("variant", "original"),
        stored_variants=tuple(item.get("stored_variants") or ()),
        variant_of=item.get("variant_of"),
    )


def item_from_record(record: HashRecord, seq: int) -> dict[str, Any]:
    """The table item of a record, numbered `seq` in its type's sequence. Empty sets are left
    out: DynamoDB stores none."""
    item: dict[str, Any] = {
        "signal_type": record.signal_type,
        "value": record.value,
        "labels": list(record.labels),
        "source": record.source,
        "added_at": record.added_at or now_iso(),
        "status": record.status,
        "visibility": record.visibility,
        "feed": record.signal_type,
        "seq": seq,
    }
    optional = {
        "case_id": record.case_id,
        "confirmed_by": record.confirmed_by,
        "groups": set(record.groups),
        "disputes": set(record.disputes),
        "endorsements": set(record.endorsements),
        "flood_cleared": record.flood_cleared or None,
        "variant": record.variant if record.variant != "original" else None,
        "stored_variants": list(record.stored_variants),
        "variant_of": record.variant_of,
    }
    item.update({k: v for k, v in optional.items() if v})
    return item


def carried_over(record: HashRecord, previous: HashRecord | None, keep_holds: bool) -> HashRecord:
    """`record` written over `previous`: tenants' opinions stay; with `keep_holds`, so does a
    dispute or a flood hold, which a new confirmation does not lift (opinions or an operator
    do)."""
    if previous is None:
        return record
    status = record.status
    if keep_holds and status == ACTIVE and previous.status in REVIEW_ONLY_STATUSES:
        status = previous.status
    return replace(
        record,
        status=status,
        disputes=tuple(sorted({*previous.disputes, *record.disputes})),
        endorsements=tuple(sorted({*previous.endorsements, *record.endorsements})),
        flood_cleared=record.flood_cleared or previous.flood_cleared,
    )


class IndexSnapshots:
    """Index snapshots in S3: one object per signal type, overwritten by each `save`."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        part_bytes: int = SNAPSHOT_PART_BYTES,
        connections: int = SNAPSHOT_CONNECTIONS,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.part_bytes = part_bytes
        self.connections = connections

    def key(self, signal_type: str) -> str:
        return SNAPSHOT_KEY.format(signal_type=signal_type)

    def save(self, signal_type: str, index: HammingIndex, watermark: int) -> int:
        """Store `index`, which holds every item of the type with seq <= `watermark`; returns
        the snapshot's size in bytes."""
        data = index.to_bytes()
        metadata = {
            "format": SNAPSHOT_FORMAT,
            "bits": str(index.bits),
            "count": str(len(index)),
            "watermark": str(int(watermark)),
        }
        self.s3.upload_fileobj(
            io.BytesIO(data),
            self.bucket,
            self.key(signal_type),
            ExtraArgs={"Metadata": metadata, "ContentType": "application/octet-stream"},
            Config=TransferConfig(
                multipart_threshold=self.part_bytes,
                multipart_chunksize=self.part_bytes,
                max_concurrency=self.connections,
            ),
        )
        return len(data)

    def describe(self, signal_type: str) -> dict[str, Any] | None:
        """What the stored snapshot says of itself (one HEAD): its watermark, count and time;
        None when there is none."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.key(signal_type))
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        metadata = head.get("Metadata", {})
        return {
            "watermark": int(metadata.get("watermark", 0)),
            "count": int(metadata.get("count", 0)),
            "saved_at": head["LastModified"].isoformat(),
            "bytes": head["ContentLength"],
        }

    def load(self, signal_type: str) -> tuple[HammingIndex, int] | None:
        """The stored index and its watermark; None when there is no snapshot. Raises
        ValueError when the snapshot is corrupt, ClientError when S3 refuses."""
        for attempt in range(3):
            try:
                data, metadata = self._fetch(self.key(signal_type))
                break
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code in ("NoSuchKey", "404"):
                    return None
                if code != "PreconditionFailed" or attempt == 2:
                    raise
                # A new snapshot replaced the object between two ranges: fetch that one.
        if metadata.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot: {metadata.get('format')!r}")
        try:
            bits, count, watermark = (int(metadata[k]) for k in ("bits", "count", "watermark"))
        except (KeyError, ValueError) as error:
            raise ValueError(f"snapshot metadata unreadable: {metadata}") from error
        index = HammingIndex.from_bytes(data)
        if index.bits != bits or len(index) != count or watermark < 0:
            raise ValueError(
                f"snapshot holds {len(index)} codes of {index.bits} bits, its metadata says "
                f"{count} of {bits} (watermark {watermark})"
            )
        return index, watermark

    def _fetch(self, key: str) -> tuple[bytearray, dict[str, str]]:
        """The whole object, in ranges fetched in parallel into one buffer. Every range after
        the first is asked for with the first's ETag: if the object was replaced meanwhile, S3
        answers 412 and the load fails rather than mixing two snapshots."""
        first = self.s3.get_object(
            Bucket=self.bucket, Key=key, Range=f"bytes=0-{self.part_bytes - 1}"
        )
        length = int(first["ContentLength"])
        content_range = first.get("ContentRange")
        total = int(content_range.rsplit("/", 1)[1]) if content_range else length
        buffer = bytearray(total)
        view = memoryview(buffer)
        _read_into(first["Body"], view[:length])
        etag = first["ETag"]

        def part(start: int) -> None:
            end = min(start + self.part_bytes, total)
            response = self.s3.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}", IfMatch=etag
            )
            _read_into(response["Body"], view[start:end])

        starts = range(length, total, self.part_bytes)
        if starts:
            with ThreadPoolExecutor(min(self.connections, len(starts))) as pool:
                list(pool.map(part, starts))
        return buffer, dict(first.get("Metadata", {}))


def _read_into(body: Any, target: memoryview) -> None:
    position = 0
    for chunk in body.iter_chunks(1 << 20):
        if position + len(chunk) > len(target):
            raise ValueError("snapshot range longer than asked for")
        target[position : position + len(chunk)] = chunk
        position += len(chunk)
    if position != len(target):
        raise ValueError(f"snapshot range truncated: {position} of {len(target)} bytes")


class HashTable:
    def __init__(
        self,
        table: Any,
        index_max_age: float = 5.0,
        snapshots: IndexSnapshots | None = None,
        feed: Any = None,
    ) -> None:
        self.table = table
        self.index_max_age = index_max_age
        self.snapshots = snapshots
        self.feed_log = FeedLog(table)
        # The delta feed's reader (`chalicelib.feed.UpdateFeed`), given by the wiring and only
        # carried here, where the API's `/hashes/feed` route looks for it: never called.
        self.feed = feed
        # Built on first use, so a type registered after this table is made gets one too.
        self._indexes: dict[str, _IndexCache] = {}

    # -- writes ------------------------------------------------------------------------
    def _allocate(self, signal_type: str, count: int) -> int:
        """Reserve `count` sequence numbers of one signal type; returns the first."""
        return reserve(self.table, signal_type, count)

    def put(self, records: Iterable[HashRecord], keep_holds: bool = False) -> int:
        """Add or replace entries; values are validated and normalised first. Tenants'
        opinions of a replaced entry stay; its status is the new record's, except that with
        `keep_holds` (a reviewer's confirmation, not an operator's import) a disputed or held
        hash stays so."""
        by_type: dict[str, list[HashRecord]] = {}
        for record in records:
            canonical = SIGNAL_TYPES[record.signal_type].validate(record.value)
            by_type.setdefault(record.signal_type, []).append(replace(record, value=canonical))
        written = 0
        everything = [record for group in by_type.values() for record in group]
        before: dict[tuple[str, str], HashRecord] = self.get_many(
            [(r.signal_type, r.value) for r in everything], consistent=True
        )
        feed_seq = self.feed_log.allocate(len(everything)) if everything else 0
        with self.table.batch_writer(overwrite_by_pkeys=["signal_type", "value"]) as batch:
            for signal_type, group in by_type.items():
                first = self._allocate(signal_type, len(group))
                for offset, record in enumerate(group):
                    previous = before.get((signal_type, record.value))
                    record = carried_over(record, previous, keep_holds)
                    item = item_from_record(record, first + offset)
                    batch.put_item(Item=item)
                    # The same change in the delta feed, in the order it was made.
                    change = change_between(previous.status if previous else None, record.status)
                    before[(signal_type, record.value)] = record  # for a later one in this batch
                    batch.put_item(Item=FeedLog.entry(feed_seq + written, change, item))
                    written += 1
        return written

    def set_status(
        self,
        signal_type: str,
        value: str,
        status: str,
        expected: Iterable[str],
        unless: str | None = None,
        **fields: Any,
    ) -> HashRecord | None:
        """Move one hash to `status` if it is now in one of `expected` (and, with `unless`,
        has no such attribute), with `fields` set too; the change gets its feed entry (and,
        through the stream, its SNS message). Returns the new record, or None when the hash
        is missing or the condition did not hold."""
        expected = list(expected)
        names = {"#status": "status", **{f"#f{i}": name for i, name in enumerate(fields)}}
        values: dict[str, Any] = {":status": status}
        values.update({f":f{i}": value for i, value in enumerate(fields.values())})
        values.update({f":e{i}": old for i, old in enumerate(expected)})
        sets = ["#status = :status", *(f"#f{i} = :f{i}" for i in range(len(fields)))]
        allowed = ", ".join(f":e{i}" for i in range(len(expected)))
        condition = f"attribute_exists(#v) AND #status IN ({allowed})"
        names["#v"] = "value"
        if unless:
            condition += " AND attribute_not_exists(#unless)"
            names["#unless"] = unless
        try:
            response = self.table.update_item(
                Key={"signal_type": signal_type, "value": value},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        old = response["Attributes"]
        new = {**old, "status": status, **fields}
        change = change_between(old.get("status", ACTIVE), status)
        self.table.put_item(Item=FeedLog.entry(self.feed_log.allocate(1), change, new))
        return record_from_item(new)

    def add_opinion(
        self, signal_type: str, value: str, tenant_id: str, dispute: bool, reason: str = ""
    ) -> HashRecord:
        """Record one tenant's opinion (a dispute, or an endorsement that withdraws its
        dispute) and its reason; returns the record as it now stands. An opinion alone is no
        update of the hash: the stream fan-out and the feed leave it out."""
        add, drop = ("disputes", "endorsements") if dispute else ("endorsements", "disputes")
        response = self.table.update_item(
            Key={"signal_type": signal_type, "value": value},
            UpdateExpression="ADD #add :tenant DELETE #drop :tenant",
            ConditionExpression="attribute_exists(#v)",
            ExpressionAttributeNames={"#add": add, "#drop": drop, "#v": "value"},
            ExpressionAttributeValues={":tenant": {tenant_id}},
            ReturnValues="ALL_NEW",
        )
        self.table.put_item(
            Item={
                "signal_type": OPINION_TYPE,
                "value": f"{signal_type}:{value}#{tenant_id}",
                "opinion": "dispute" if dispute else "confirm",
                "reason": reason[:1000],
                "at": now_iso(),
            }
        )
        return record_from_item(response["Attributes"])

    # -- reads -------------------------------------------------------------------------
    def get_many(
        self, keys: Sequence[tuple[str, str]], consistent: bool = False
    ) -> dict[tuple[str, str], HashRecord]:
        """Exact lookups, at most 100 keys a request. Eventually consistent (half the price)
        when matching: a hash written less than a second ago may be missed once, well inside
        the freshness bound of the index (`index_max_age`); writers read consistently."""
        wanted = [{"signal_type": t, "value": v} for t, v in dict.fromkeys(keys)]
        records = (record_from_item(item) for item in batch_get(self.table, wanted, consistent))
        return {(r.signal_type, r.value): r for r in records}

    def current_seq(self, signal_type: str) -> int:
        item = self.table.get_item(
            Key={"signal_type": COUNTER_TYPE, "value": signal_type}, ConsistentRead=True
        ).get("Item")
        return int(item["seq"]) if item else 0

    def newest(self, signal_type: str) -> dict[str, Any] | None:
        """The item of the type written last (its seq and `added_at`), through `by_seq`."""
        response = self.table.query(
            IndexName=SEQ_INDEX,
            KeyConditionExpression=KeyCondition("feed").eq(signal_type),
            ScanIndexForward=False,
            Limit=1,
        )
        return response["Items"][0] if response["Items"] else None

    def since(self, signal_type: str, after_seq: int) -> Iterable[dict[str, Any]]:
        """Items of one type written after `after_seq`, in order (eventually consistent GSI)."""
        kwargs: dict[str, Any] = {
            "IndexName": SEQ_INDEX,
            "KeyConditionExpression": KeyCondition("feed").eq(signal_type)
            & KeyCondition("seq").gt(after_seq),
        }
        while True:
            response = self.table.query(**kwargs)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def index(self, signal_type: str) -> HammingIndex | None:
        """This container's index of one signal type, brought up to date if it may be stale;
        None for a type that declares none (its values are looked up exactly)."""
        cache = self._indexes.get(signal_type)
        if cache is None:
            empty = SIGNAL_TYPES[signal_type].new_index() if signal_type in SIGNAL_TYPES else None
            if empty is None:
                return None
            cache = self._indexes[signal_type] = _IndexCache(self, signal_type, empty)
        return cache.fresh()

    def save_snapshot(self, signal_type: str) -> dict[str, int]:
        """Build one type's index from the table alone (from seq 0, no snapshot) and store it
        as the snapshot cold containers start from. Returns its count, bytes, watermark (every
        write up to it is in the snapshot) and the table's seq when the build started. A seq
        whose hash was written again since under a later one looks like a writer still at work,
        so the watermark stops below it: a cold container then reads the table from there."""
        if self.snapshots is None:
            raise ValueError("no index bucket: set CORDON_INDEX_BUCKET")
        empty = SIGNAL_TYPES[signal_type].new_index()
        if empty is None:
            raise ValueError(f"{signal_type} has no index: its values are looked up exactly")
        cache = _IndexCache(self, signal_type, empty, use_snapshot=False)
        top = self.current_seq(signal_type)
        index = cache.fresh()
        size = self.snapshots.save(signal_type, index, cache.watermark)
        watermark = cache.watermark
        return {
            "count": len(index),
            "bytes": size,
            "watermark": watermark,
            "table_seq": max(top, watermark),
        }


class _IndexCache:
    """One signal type's index in a warm container, and how far it has read the table."""

    def __init__(
        self, table: HashTable, signal_type: str, empty: HammingIndex, use_snapshot: bool = True
    ) -> None:
        self.table = table
        self.signal_type = signal_type
        self.index = empty
        self.watermark = 0  # every item with seq <= watermark is in the index
        self.seen: set[str] = set()  # values this container added (not the snapshot's)
        self.seen_seqs: set[int] = set()
        self.gap_since: dict[int, float] = {}
        self.checked_at = float("-inf")
        self.started = not use_snapshot  # the snapshot was tried (or is not to be)
        self.from_snapshot = False

    def fresh(self) -> HammingIndex:
        if not self.started:
            self.started = True
            self._start_from_snapshot()
        now = time.monotonic()
        if now - self.checked_at >= self.table.index_max_age:
            self.checked_at = now
            top = self.table.current_seq(self.signal_type)
            if top > self.watermark:
                self._catch_up(top, now)
        return self.index

    def _start_from_snapshot(self) -> None:
        snapshots = self.table.snapshots
        if snapshots is None:
            return
        where = f"s3://{snapshots.bucket}/{snapshots.key(self.signal_type)}"
        started = time.monotonic()
        try:
            found = snapshots.load(self.signal_type)
        except (BotoCoreError, ClientError, ValueError) as error:
            logs.logger.warning(
                f"index snapshot {where} unusable ({error}): building the index from the table"
            )
            return
        if found is None:
            logs.logger.warning(f"no index snapshot at {where}: building the index from the table")
            return
        index, watermark = found
        if index.bits != self.index.bits:
            logs.logger.warning(
                f"index snapshot {where} has {index.bits}-bit codes, not {self.index.bits}: "
                "building the index from the table"
            )
            return
        self.index, self.watermark, self.from_snapshot = index, watermark, True
        logs.logger.info(
            f"index snapshot {where} loaded: {len(index)} hashes up to seq {watermark} "
            f"in {time.monotonic() - started:.2f} s"
        )

    def _known(self, value: str) -> bool:
        """Whether `value` is in the index already (seen here, or in the snapshot)."""
        if value in self.seen:
            return True
        self.seen.add(value)
        return self.from_snapshot and bool(self.index.query(value, 0))

    def _catch_up(self, top: int, now: float) -> None:
        fresh_values = []
        for item in self.table.since(self.signal_type, self.watermark):
            self.seen_seqs.add(int(item["seq"]))
            if not self._known(item["value"]):
                fresh_values.append(item["value"])
        self.index.add(fresh_values)
        # Advance over every seq seen; wait for missing ones (a writer still at work) until
        # they are old enough to be given up.
        while self.watermark < top:
            following = self.watermark + 1
            if following in self.seen_seqs:
                self.seen_seqs.discard(following)
            elif now - self.gap_since.setdefault(following, now) < ABANDONED_GAP_SECONDS:
                break
            self.gap_since.pop(following, None)
            self.watermark = following
