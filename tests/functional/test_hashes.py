"""The shared hash table: import files, exact lookups, and the freshness of warm indexes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chalicelib.adapters.hashes import HashTable
from chalicelib.models import HashRecord
from cordon_cli.main import main
from cordon_cli.operations import read_hash_file
from tests.conftest import World

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def flip(value: str, bits: int) -> str:
    number = int(value, 16) ^ ((1 << bits) - 1)
    return f"{number:064x}"


def test_import_csv_and_json_lines(world: World, tmp_path: Path):
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(f"signal_type,value,labels\npdq,{PDQ_A.upper()},propaganda;entity-x\n")
    jsonl = tmp_path / "list.jsonl"
    jsonl.write_text(
        json.dumps({"signal_type": "sha256", "value": SHA, "labels": ["leaflet"]}) + "\n"
    )
    assert main(["hashes", "import", str(csv_file)]) == 0
    assert main(["hashes", "import", str(jsonl), "--source", "gifct"]) == 0
    found = world.cordon.hashes.get_many([("pdq", PDQ_A), ("sha256", SHA), ("md5", "0" * 32)])
    assert found[("pdq", PDQ_A)].labels == ("propaganda", "entity-x")
    assert found[("pdq", PDQ_A)].source == "import"
    assert found[("sha256", SHA)].source == "gifct"
    assert ("md5", "0" * 32) not in found


def test_import_rejects_unknown_types_and_bad_values(tmp_path: Path):
    bad_type = tmp_path / "a.csv"
    bad_type.write_text("signal_type,value,labels\ntlsh,abc,x\n")
    with pytest.raises(ValueError, match="unknown signal type"):
        read_hash_file(bad_type)
    bad_value = tmp_path / "b.csv"
    bad_value.write_text("signal_type,value,labels\npdq,xyz,x\n")
    with pytest.raises(ValueError, match="line 1: pdq values are 64 hex digits"):
        read_hash_file(bad_value)


def test_threatexchange_lists_move_both_ways(world: World, tmp_path: Path, capsys):
    te_list = tmp_path / "te.txt"
    te_list.write_text(
        f"pdq {PDQ_A.upper()}\nvideo_md5 {'a' * 32}\nvideo_sha256 {SHA}\n"
        f"url https://example.org/x\nraw_text hello there\n"
    )
    assert main(["hashes", "import", str(te_list), "--source", "te-exchange"]) == 0
    out = capsys.readouterr().out
    assert "imported 3 hashes" in out and "skipped 1: ThreatExchange type 'url'" in out
    found = world.cordon.hashes.get_many([("pdq", PDQ_A), ("md5", "a" * 32), ("sha256", SHA)])
    assert len(found) == 3 and found[("pdq", PDQ_A)].source == "te-exchange"
    world.cordon.hashes.put([HashRecord("phash", "d1d1b9c7c6c68a8e")])
    exported = tmp_path / "out.txt"
    assert main(["hashes", "export", "--format", "te", "--output", str(exported)]) == 0
    assert exported.read_text() == f"pdq {PDQ_A}\n"  # exact hashes and pHash have no TE name
    assert "not exported" in capsys.readouterr().err
    assert (
        main(["hashes", "export", "--format", "te", "--exact-as-video", "--output", str(exported)])
        == 0
    )
    assert sorted(exported.read_text().splitlines()) == sorted(
        [f"pdq {PDQ_A}", f"video_md5 {'a' * 32}", f"video_sha256 {SHA}"]
    )
    # Round trips: JSON lines and CSV keep labels and provenance.
    for fmt in ("jsonl", "csv"):
        listing = tmp_path / f"all.{fmt}"
        assert main(["hashes", "export", "--format", fmt, "--output", str(listing)]) == 0
        again = read_hash_file(listing)
        assert {(r.signal_type, r.value, r.source) for r in again.records} == {
            ("pdq", PDQ_A, "te-exchange"),
            ("md5", "a" * 32, "te-exchange"),
            ("sha256", SHA, "te-exchange"),
            ("phash", "d1d1b9c7c6c68a8e", "import"),
        }


def test_warm_index_sees_a_new_hash_within_its_max_age(world: World):
    table = HashTable(world.cordon.hashes.table, index_max_age=0.5)
    table.put([HashRecord("pdq", PDQ_A)])
    assert [v for v, _ in table.index("pdq").query(PDQ_A, 31)] == [PDQ_A]
    near = flip(PDQ_A, 10)
    # Another writer (an import, a confirmed review) adds a hash.
    world.cordon.hashes.put([HashRecord("pdq", near)])
    # Within max_age the warm index may still be stale: it has not looked.
    stale = {v for v, _ in table.index("pdq").query(near, 0)}
    deadline = time.monotonic() + 5
    while near not in stale and time.monotonic() < deadline:
        time.sleep(0.1)
        stale = {v for v, _ in table.index("pdq").query(near, 0)}
    assert near in stale
    assert len(table.index("pdq")) == 2


def test_index_waits_for_a_missing_sequence_number_instead_of_skipping_it(world: World):
    table = world.cordon.hashes
    table.put([HashRecord("pdq", PDQ_A)])
    table.index("pdq")
    # A writer reserved seq 2 but has not written its item yet; seq 3 lands first.
    reserved = table._allocate("pdq", 1)
    table.put([HashRecord("pdq", flip(PDQ_A, 20))])
    cache = table._indexes["pdq"]
    table.index("pdq")
    assert cache.watermark == reserved - 1
    late = flip(PDQ_A, 40)
    table.table.put_item(
        Item={
            "signal_type": "pdq",
            "value": late,
            "labels": [],
            "source": "x",
            "status": "active",
            "feed": "pdq",
            "seq": reserved,
        }
    )
    index = table.index("pdq")
    assert cache.watermark == reserved + 1
    assert late in {v for v, _ in index.query(late, 0)}


def test_retired_hash_stops_matching_even_while_still_in_a_warm_index(world: World):
    from chalicelib.matching import find_matches
    from chalicelib.models import Signal

    table = world.cordon.hashes
    table.put([HashRecord("pdq", PDQ_A)])
    probe = [Signal("pdq", flip(PDQ_A, 5), quality=100)]
    assert find_matches(probe, table.get_many, table.index, {"pdq": 31})
    table.put([HashRecord("pdq", PDQ_A, status="retired")])
    assert not find_matches(probe, table.get_many, table.index, {"pdq": 31})
