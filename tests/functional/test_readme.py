"""The README's command blocks, run as written (against this test's moto: `--local` and the
`.venv/bin/` prefix dropped), in the order a reader meets them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from cordon_cli import samples
from cordon_cli.main import main
from tests.conftest import World
from tests.events import EVENTS_DIR
from tests.functional.test_ingest import pdq_of

README = Path(__file__).resolve().parents[2] / "README.md"

# Lines of the blocks that are not run here, and why.
NOT_RUN = {
    "make ": "make targets: the whole suite, the demo, the package (`make test` runs them)",
    "cordon local": "runs until interrupted: tests/app/test_local_stack.py runs it",
    "cordon --local demo": "the demo: tests/app/test_local_stack.py runs it",
    "aws ": "the AWS CLI: the test uploads the same file with boto3",
    "GET ": "the reviewers' API: tests/app and tests/functional/test_review.py",
    "POST ": "the reviewers' API: tests/app and tests/functional/test_review.py",
    "cordon reviews list|show|decide": "three commands in one line: test_review.py runs them",
}
# A command the README shows failing, on purpose, at the point it comes (none today).
EXPECTED_EXIT: dict[str, int] = {}


def readme_lines() -> list[str]:
    """Every command line of the README's sh blocks, comments and `.venv/bin/` dropped."""
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            command = line.split("  #")[0].split(" # ")[0].strip().removeprefix(".venv/bin/")
            if command:
                lines.append(command)
    return lines


def test_the_readme_has_command_blocks_and_each_is_run_or_has_a_reason():
    lines = readme_lines()
    assert any(line.startswith("cordon status") for line in lines)
    unknown = [
        line
        for line in lines
        if not line.startswith("cordon ") and not any(line.startswith(prefix) for prefix in NOT_RUN)
    ]
    assert unknown == []


def test_every_readme_command_works_as_written(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    # GIVEN a fresh directory holding what the README's commands name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events").symlink_to(EVENTS_DIR)
    photo = samples.jpeg(samples.known_bad(1)[0])
    Path("hashes.csv").write_text(f"signal_type,value,labels\npdq,{pdq_of(photo)},propaganda\n")
    Path("batch.jsonl").write_text(
        (EVENTS_DIR / "replay.json").read_text().replace("\n", "") + "\n"
    )
    values: dict[str, str] = {}

    def placeholders(text: str) -> str:
        for name, value in values.items():
            text = re.sub(rf"\b{re.escape(name)}\b", value, text)
        return text

    ran = []
    for line in readme_lines():
        if any(line.startswith(prefix) for prefix in NOT_RUN):
            if line.startswith("aws "):  # the upload the README makes with the AWS CLI
                world.upload("acme-uploads", "photo.jpg", photo)
                world.drain()
                (case,) = world.cordon.cases.for_tenant("acme")
                values.update(CASE_ID=case.case_id)
                values["s3://bucket/key"] = "s3://acme-uploads/photo.jpg"
                values["s3://bucket/prefix"] = "s3://acme-uploads/"
            continue
        argv = [a for a in shlex.split(placeholders(line)) if a != "--local"]
        assert argv[0] == "cordon", line
        if argv[1:3] == ["dlq", "show"]:
            # something to show: a dead letter, as a failed object leaves one
            queue = world.stack.refs["IngestDeadLetterQueue"]
            sent = world.cordon.sqs.send_message(QueueUrl=queue, MessageBody="{}")
            argv[3] = sent["MessageId"]
        code = main(argv[1:])
        out = capsys.readouterr().out
        assert code == EXPECTED_EXIT.get(line, 0), f"{line}\n{out}"
        if argv[1:3] == ["tenants", "key"]:
            values["KEY"] = out.strip().splitlines()[0]
        ran.append(line)
    assert len(ran) >= 15
    assert "cordon cases show CASE_ID" in ran and "cordon status" in ran
