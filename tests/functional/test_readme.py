"""The README's command blocks, run as written (against this test's moto: `--local` and the
`.venv/bin/` prefix dropped), in the order a reader meets them. Every line of its shell blocks
is run here, or NOT_RUN says which test runs it or why nothing can."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from PIL import ImageOps

from cordon_cli import samples
from cordon_cli.main import main
from tests.conftest import World
from tests.events import EVENTS_DIR
from tests.unit.test_docs_commands import shell_lines

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Lines of the blocks that are not run here, and why.
NOT_RUN = {
    "make ": "make targets: the whole suite, the demo, the package (`make test` runs them)",
    "cordon local": "runs until interrupted: tests/app/test_local_stack.py runs it",
    "cordon --local demo": "the demo: tests/app/test_local_stack.py runs it",
}
# Shell lines the test runs as a shell would (in the test's directory), and Python lines it
# runs in this process, where moto answers boto3.
SHELL = ("printf ",)
PYTHON = "python -c "


def readme_lines() -> list[str]:
    """Every command line of the README's sh blocks, comments and `.venv/bin/` dropped."""
    lines = []
    for line in shell_lines(README.read_text()):
        if line.startswith("#"):
            continue
        command = line.split("  #")[0].split(" # ")[0].strip().removeprefix(".venv/bin/")
        if command:
            lines.append(command)
    return lines


def test_the_readme_has_command_blocks_and_each_is_run_or_has_a_reason():
    lines = readme_lines()
    assert any(line.startswith("cordon status") for line in lines)
    unknown = [line for line in lines if not line.startswith(("cordon ", PYTHON, *SHELL, *NOT_RUN))]
    assert unknown == []


def _awaiting(world: World) -> str | None:
    waiting = world.cordon.cases.for_tenant("acme", "pending_review")
    return next((case.case_id for case in waiting if case.token), None)


def test_every_readme_command_works_as_written(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    # GIVEN a fresh clone's files, in a scratch directory for what the commands write
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").symlink_to(ROOT / "docs")
    (tmp_path / "events").symlink_to(EVENTS_DIR)
    Path("batch.jsonl").write_text(
        (EVENTS_DIR / "replay.json").read_text().replace("\n", "") + "\n"
    )
    values: dict[str, str] = {}

    def placeholders(text: str) -> str:
        for name, value in values.items():
            text = re.sub(rf"(?<![\w/]){re.escape(name)}\b", value, text)
        return text

    ran = []
    for line in readme_lines():
        if line.startswith(tuple(NOT_RUN)):
            continue
        if line.startswith(SHELL):
            subprocess.run(["sh", "-c", line], check=True, cwd=tmp_path)
            ran.append(line)
            continue
        if line.startswith(PYTHON):
            exec(shlex.split(line)[2], {})  # the README's boto3 line, answered by moto
            world.drain()
            (case,) = world.cordon.cases.for_tenant("acme")
            values["CASE_ID"] = case.case_id
            values["s3://bucket/key"] = "s3://acme-uploads/hello.txt"
            values["s3://bucket/prefix"] = "s3://acme-uploads/"
            ran.append(line)
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
        assert code == 0, f"{line}\n{out}"
        if argv[1:3] == ["tenants", "key"]:
            values["KEY"] = out.strip().splitlines()[0]
            # a case in the reviewer's queue for the review commands: a mirrored poster
            mirrored = ImageOps.mirror(samples.known_bad(1)[0])
            world.upload("acme-uploads", "mirrored.jpg", samples.jpeg(mirrored))
            world.settle(until=lambda: _awaiting(world))
            values["CASE_ID"] = _awaiting(world)
        if argv[1] == "trace" and "hello.txt" in line:
            assert "quarantined" in out, out  # as the README's comment says
        if line.endswith("hashes import docs/examples/hashes.csv"):
            assert "imported 4 hashes" in out
            # the shipped list takes a demo poster down
            world.upload("acme-uploads", "poster.jpg", samples.jpeg(samples.known_bad(1)[0]))
            world.drain()
            assert not world.exists("acme-uploads", "poster.jpg")
        ran.append(line)
    assert len(ran) >= 20
    assert "cordon cases show CASE_ID" in ran and "cordon status" in ran
