"""Every command's `--json` parses and has the keys `docs/cli.md` documents for it."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from cordon_cli import samples
from cordon_cli.main import main
from tests.conftest import World
from tests.events import EVENTS_DIR
from tests.functional.test_ingest import pdq_of
from tests.functional.test_review import waiting

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def documented() -> dict[str, dict[str, Any]]:
    """command -> its shape and keys, from the schema table of docs/cli.md."""
    schemas = {}
    for line in DOCS.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].startswith("`"):
            continue
        keys = [set(re.findall(r"`([^`]+)`", cell)) for cell in cells[2:]]
        for name in re.findall(r"`([^`]+)`", cells[0]):
            schemas[name] = {"shape": cells[1], "always": keys[0], "optional": keys[1]}
            schemas[name]["last"] = keys[2] if "none" not in cells[4] else None
    return schemas


def check(schema: dict[str, Any], document: dict[str, Any], where: str) -> None:
    keys = set(document)
    assert schema["always"] <= keys, f"{where}: missing {schema['always'] - keys}"
    extra = keys - schema["always"] - schema["optional"]
    assert not extra, f"{where}: undocumented {extra}"


def run_json(capsys, argv: list[str], expect: int = 0) -> list[dict[str, Any]]:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == expect, out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_the_docs_cover_every_command_with_json():
    import cordon_cli.main as cli
    from tests.unit.test_cli_parser import parsers

    with_json = {
        path.removeprefix("cordon ")
        for path, parser in parsers(cli.parser())
        if any("--json" in a.option_strings for a in parser._actions)
    }
    assert with_json == set(documented())


def test_every_commands_json_has_the_documented_keys(world: World, tmp_path: Path, capsys):
    schemas = documented()
    seen: dict[str, list[list[dict[str, Any]]]] = {}

    def run(name: str, *args: str, expect: int = 0) -> list[dict[str, Any]]:
        lines = run_json(capsys, [*name.split(), *args], expect)
        seen.setdefault(name, []).append(lines)
        return lines

    bad = samples.jpeg(samples.known_bad(1)[0])
    copy = samples.jpeg(samples.resized(samples.known_bad(1)[0]))
    sha = hashlib.sha256(bad).hexdigest()
    hashes = tmp_path / "hashes.csv"
    hashes.write_text(f"signal_type,value,labels\nsha256,{sha},propaganda\npdq,{pdq_of(bad)},x\n")
    (tmp_path / "a.jpg").write_bytes(bad)
    (tmp_path / "b.jpg").write_bytes(copy)

    run("tenants add", "alpha", "--bucket", "alpha-uploads", "--create-bucket")
    run(
        "tenants add",
        "beta",
        "--bucket",
        "beta-uploads",
        "--create-bucket",
        "--pdq-action",
        "REVIEW",
    )
    run("tenants add", "tenant-a", "--bucket", "tenant-a-uploads", "--create-bucket")
    run("tenants list")
    run("hashes import", str(hashes))
    key = run("tenants key", "beta", "--reviewer", "ana")[0]["key"]
    run("tenants subscribe", "alpha", "--queue", "alpha-updates")
    ref = world.upload("alpha-uploads", "bad.jpg", bad)
    held = world.upload("beta-uploads", "held.jpg", copy)
    world.settle(until=lambda: waiting(world, held.case_id("beta")))
    case_id = ref.case_id("alpha")

    run("cases list")
    run("cases show", case_id)
    run("trace", "s3://alpha-uploads/bad.jpg")
    run("trace", case_id)
    run("status", expect=0)
    run("replay", str(EVENTS_DIR / "s3-put.json"))
    run("replay", str(EVENTS_DIR / "malformed.json"), expect=1)
    run("rescan", "s3://alpha-uploads/", "--checkpoint-dir", str(tmp_path / "rescan"))
    dlq = world.stack.refs["IngestDeadLetterQueue"]
    world.cordon.sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    (message,) = run("dlq list")[:-1]
    run("dlq show", message["message_id"])
    run("dlq redrive", "--all")
    run("reviews list", "--key", key)
    run("reviews show", held.case_id("beta"), "--key", key)
    run("reviews decide", held.case_id("beta"), "confirm", "--key", key, "--reason", "seen")
    run("reviews sweep")
    run("hashes retire", "sha256", sha)
    run("index snapshot")
    run("compare", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"))
    # release of a hash not held: a usage error on stderr, nothing on stdout to parse
    assert run_json(capsys, ["hashes", "release", "sha256", sha], expect=2) == []

    for name, runs in seen.items():
        schema = schemas[name]
        for lines in runs:
            if schema["shape"] == "object":
                assert len(lines) == 1, name
                check(schema, lines[0], name)
                continue
            rows = lines if schema["last"] is None else lines[:-1]
            if schema["last"] is not None:
                assert set(lines[-1]) == schema["last"], name
            for row in rows:
                check(schema, row, name)
    untested = set(schemas) - set(seen) - {"hashes release"}
    assert not untested
