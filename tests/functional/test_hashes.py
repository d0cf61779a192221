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


def test_import_skips_unknown_types_and_bad_values_naming_their_lines(tmp_path: Path):
    listing = tmp_path / "a.csv"
    listing.write_text(f"signal_type,value,labels\ntlsh,abc,x\npdq,xyz,x\npdq,{PDQ_A},x\n")
    parsed = read_hash_file(listing)
    assert [r.value for r in parsed.records] == [PDQ_A]
    assert parsed.report() == [
        "skipped 1: unknown signal type 'tlsh' (line 2)",
        "skipped 1: pdq values are 64 hex digits (line 3 'xyz')",
    ]


MD5 = "0123456789abcdef0123456789abcdef"
# Every shape an operator's list comes in (issue 16 item 5), and what it holds.
SHAPES = {
    "header.csv": (f"signal_type,value,labels\npdq,{PDQ_A},a;b\n", [("pdq", PDQ_A)]),
    "bom.csv": (f"\ufeffsignal_type,value,labels\nsha256,{SHA},a\n", [("sha256", SHA)]),
    "no-header.csv": (f"pdq,{PDQ_A},a\nmd5,{MD5}\n", [("pdq", PDQ_A), ("md5", MD5)]),
    "strings.json": (json.dumps([MD5, SHA.upper()]), [("md5", MD5)]),
    "objects.json": (
        json.dumps([{"type": "sha256", "hash": SHA}, {"signal_type": "md5", "value": MD5}]),
        [("sha256", SHA), ("md5", MD5)],
    ),
    "lines.jsonl": (json.dumps({"signal_type": "pdq", "value": PDQ_A}) + "\n", [("pdq", PDQ_A)]),
    "bare.txt": (f"{MD5}\n\n{MD5.upper()}\n", [("md5", MD5)] * 2),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_import_reads_every_shape(world: World, tmp_path: Path, capsys, name: str):
    text, expected = SHAPES[name]
    listing = tmp_path / name
    listing.write_text(text, encoding="utf-8")
    assert main(["hashes", "import", str(listing)]) == 0
    out = capsys.readouterr().out
    assert f"imported {len(expected)} hashes" in out
    found = world.cordon.hashes.get_many(expected)
    assert set(found) == set(expected)


def test_bare_64_hex_digits_need_a_type(world: World, tmp_path: Path, capsys):
    # PDQ and SHA-256 are both 64 hex digits: never guessed.
    listing = tmp_path / "list.txt"
    listing.write_text(f"{PDQ_A}\n{SHA}\n")
    assert main(["hashes", "import", str(listing)]) == 1
    captured = capsys.readouterr()
    assert "imported 0 hashes" in captured.out and "skipped 2" in captured.out
    assert "PDQ or a SHA-256" in captured.out and f"(line 1 '{PDQ_A[:20]}', 2 '" in captured.out
    assert "nothing imported" in captured.err
    assert main(["hashes", "import", str(listing), "--type", "sha256"]) == 0
    assert set(world.cordon.hashes.get_many([("sha256", PDQ_A), ("sha256", SHA)])) == {
        ("sha256", PDQ_A),
        ("sha256", SHA),
    }


def test_a_broken_line_is_skipped_and_the_rest_imported(world: World, tmp_path: Path, capsys):
    listing = tmp_path / "list.jsonl"
    listing.write_text('{"signal_type": "md5", "value": "' + MD5 + '"}\n{"signal_type": md5\n')
    assert main(["hashes", "import", str(listing)]) == 0
    out = capsys.readouterr().out
    assert "imported 1 hashes" in out and "skipped 1: not JSON" in out and "(line 2)" in out


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("broken.json", b'[{"signal_type": "md5", ', "not valid JSON (line 1"),
        ("poster.jpg", None, "not a list of hashes but image/jpeg"),
        ("zeros.bin", b"\0" * 64, "not a list of hashes but binary data"),
        ("latin1.txt", "caf\xe9".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_a_file_that_is_no_list_is_named_in_one_line(
    world: World, tmp_path: Path, capsys, name: str, content: bytes | None, message: str
):
    from cordon_cli import samples

    path = tmp_path / name
    path.write_bytes(content if content is not None else samples.jpeg(samples.clean(1)[0]))
    assert main(["hashes", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"cordon: {path}: {message}" in err, err


def test_prose_is_reported_in_a_few_lines(world: World, tmp_path: Path, capsys):
    prose = tmp_path / "notes.txt"
    prose.write_text("\n".join(f"line {n} of some notes, and no hash" for n in range(300)))
    assert main(["hashes", "import", str(prose)]) == 1
    out = capsys.readouterr().out
    assert "imported 0 hashes" in out and len(out.splitlines()) <= 12


def test_a_missing_list_is_named(world: World, tmp_path: Path, capsys):
    assert main(["hashes", "import", str(tmp_path / "nowhere.csv")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "no such file" in err and "nowhere.csv" in err


def test_threatexchange_lists_move_both_ways(world: World, tmp_path: Path, capsys):
    te_list = tmp_path / "te.txt"
    te_list.write_text(
        f"pdq {PDQ_A.upper()}\nvideo_md5 {'a' * 32}\nvideo_sha256 {SHA}\n"
        f"url https://example.org/x\nraw_text hello there\n"
    )
    assert main(["hashes", "import", str(te_list), "--source", "te-exchange"]) == 0
    out = capsys.readouterr().out
    assert "imported 3 hashes" in out and "skipped 1: ThreatExchange type 'url'" in out
    assert "(line 4)" in out
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
