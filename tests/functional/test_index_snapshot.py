"""The PDQ index snapshot in S3: written by `cordon index snapshot`, loaded by a cold container,
which then reads the table only from the snapshot's watermark on."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from chalicelib import logs
from chalicelib.adapters.hashes import HashTable, IndexSnapshots
from chalicelib.models import HashRecord
from cordon_cli.main import main
from tests.conftest import World


def random_pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


class CountingTable(HashTable):
    """A cold container's HashTable that records where it read the GSI from, and how much."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_from: list[int] = []
        self.items_read = 0

    def since(self, signal_type: str, after_seq: int):
        self.read_from.append(after_seq)
        for item in super().since(signal_type, after_seq):
            self.items_read += 1
            yield item


def cold(world: World, snapshots: IndexSnapshots | None) -> CountingTable:
    return CountingTable(world.cordon.hashes.table, index_max_age=0, snapshots=snapshots)


@pytest.fixture
def snapshots(world: World) -> IndexSnapshots:
    found = world.cordon.hashes.snapshots
    assert found is not None, "the world wires the index bucket"
    # Small ranges, so that a test snapshot is fetched in several parallel parts.
    return IndexSnapshots(found.s3, found.bucket, part_bytes=1024, connections=3)


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Warnings logged by Cordon's logger."""
    logged: list[str] = []
    monkeypatch.setattr(logs.logger, "warning", lambda message, *a, **k: logged.append(message))
    return logged


def values(index, probe: str) -> list[str]:
    return [v for v, _ in index.query(probe, 0)]


def test_cold_container_starts_from_the_snapshot_and_reads_only_what_followed(
    world: World, snapshots: IndexSnapshots
):
    rng = random.Random(6)
    old = [random_pdq(rng) for _ in range(40)]
    new = [random_pdq(rng) for _ in range(7)]
    writer = world.cordon.hashes
    writer.put(HashRecord("pdq", v) for v in old)
    report = writer.save_snapshot("pdq")
    assert report["count"] == 40
    assert report["watermark"] == writer.current_seq("pdq") == 40
    writer.put(HashRecord("pdq", v) for v in new)
    # One old hash written again (new labels): a new seq, the same value.
    writer.put([HashRecord("pdq", old[0], ("relabelled",))])

    table = cold(world, snapshots)
    index = table.index("pdq")
    assert table.read_from == [40]
    assert table.items_read == 8
    assert len(index) == 47  # the rewritten hash is not indexed twice
    for value in old + new:
        assert values(index, value) == [value]
    assert table._indexes["pdq"].from_snapshot and table._indexes["pdq"].watermark == 48

    # Without a snapshot a cold container reads everything, and ends up with the same index.
    plain = cold(world, None)
    assert len(plain.index("pdq")) == 47
    # (The rewrite replaced the item of seq 1: the table holds 47.)
    assert plain.read_from == [0] and plain.items_read == 47


def test_snapshot_fetched_in_ranges_equals_the_one_saved(world: World, snapshots: IndexSnapshots):
    rng = random.Random(7)
    world.cordon.hashes.put(HashRecord("pdq", random_pdq(rng)) for _ in range(300))
    world.cordon.hashes.save_snapshot("pdq")
    stored = world.s3.get_object(Bucket=snapshots.bucket, Key="pdq/snapshot.bin")
    assert stored["Metadata"]["watermark"] == "300"
    assert stored["Metadata"]["count"] == "300"
    body = stored["Body"].read()
    assert len(body) > 3 * snapshots.part_bytes
    data, metadata = snapshots._fetch("pdq/snapshot.bin")
    assert bytes(data) == body
    assert metadata == stored["Metadata"]


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "wrong-count", "no-metadata"],
)
def test_corrupt_snapshot_falls_back_to_the_table(
    world: World, snapshots: IndexSnapshots, damage: str, warnings: list[str]
):
    rng = random.Random(8)
    hashes = [random_pdq(rng) for _ in range(20)]
    world.cordon.hashes.put(HashRecord("pdq", v) for v in hashes)
    world.cordon.hashes.save_snapshot("pdq")
    key = "pdq/snapshot.bin"
    stored = world.s3.get_object(Bucket=snapshots.bucket, Key=key)
    body, metadata = stored["Body"].read(), stored["Metadata"]
    if damage == "garbage":
        body = b"\x00" * len(body)
    elif damage == "truncated":
        body = body[: len(body) // 2]
    elif damage == "wrong-count":
        metadata = {**metadata, "count": "19"}
    else:
        metadata = {}
    world.s3.put_object(Bucket=snapshots.bucket, Key=key, Body=body, Metadata=metadata)

    table = cold(world, snapshots)
    index = table.index("pdq")
    assert len(warnings) == 1 and "unusable" in warnings[0], warnings
    assert table.read_from == [0] and table.items_read == 20
    assert not table._indexes["pdq"].from_snapshot
    assert sorted(v for h in hashes for v in values(index, h)) == sorted(hashes)


def test_missing_snapshot_falls_back_to_the_table(
    world: World, snapshots: IndexSnapshots, warnings: list[str]
):
    world.cordon.hashes.put([HashRecord("pdq", "ab" * 32)])
    table = cold(world, snapshots)
    assert values(table.index("pdq"), "ab" * 32) == ["ab" * 32]
    assert table.read_from == [0]
    assert len(warnings) == 1 and "no index snapshot" in warnings[0], warnings


def test_cli_index_snapshot_json(world: World, capsys: pytest.CaptureFixture):
    rng = random.Random(9)
    world.cordon.hashes.put(HashRecord("pdq", random_pdq(rng)) for _ in range(12))
    capsys.readouterr()
    assert main(["index", "snapshot", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    bucket = world.cordon.settings.index_bucket
    assert report["snapshot"] == f"s3://{bucket}/pdq/snapshot.bin"
    assert report["count"] == 12 and report["watermark"] == 12
    assert report["bytes"] > 12 * 32 and report["seconds"] >= 0
    head = world.s3.head_object(Bucket=bucket, Key="pdq/snapshot.bin")
    assert head["ContentLength"] == report["bytes"]
    assert head["Metadata"]["watermark"] == "12"


def test_snapshot_replaced_during_a_load_is_fetched_again(world: World, snapshots: IndexSnapshots):
    rng = random.Random(10)
    world.cordon.hashes.put(HashRecord("pdq", random_pdq(rng)) for _ in range(100))
    world.cordon.hashes.save_snapshot("pdq")
    world.cordon.hashes.put(HashRecord("pdq", random_pdq(rng)) for _ in range(5))
    s3 = snapshots.s3

    class Racing:
        """An S3 client during whose first load a new snapshot is written."""

        raced = False

        def get_object(self, **kwargs: Any) -> Any:
            if "IfMatch" in kwargs and not self.raced:
                self.raced = True
                world.cordon.hashes.save_snapshot("pdq")
            return s3.get_object(**kwargs)

    racing = IndexSnapshots(Racing(), snapshots.bucket, part_bytes=1024, connections=1)
    index, watermark = racing.load("pdq")
    assert (len(index), watermark) == (105, 105)


def test_cli_index_snapshot_says_what_its_seq_means(world: World, capsys: pytest.CaptureFixture):
    # GIVEN a hash written again (a confirmation of an imported one): its first seq is gone
    value = random_pdq(random.Random(11))
    world.cordon.hashes.put([HashRecord("pdq", value)])
    world.cordon.hashes.put([HashRecord("pdq", value, ("relabelled",))])
    capsys.readouterr()
    assert main(["index", "snapshot"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    # THEN the line names the table's seq beside the snapshot's, and why they differ
    assert "1 pdq hashes" in out
    assert "complete up to write seq 0 of the table's 2" in out
    assert "seq 1 is missing (its hash was written again under a later seq" in out
    assert "reads the writes after seq 0 from the table" in out
