"""The README's commands, run as written against this test's moto (the local stack's part that
`--local` would point at), in the README's order. Every `cordon` line of its shell blocks is
either run here or listed in NOT_RUN with the test that runs it, or why nothing can."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from cordon_cli import samples
from cordon_cli.main import main
from tests.conftest import World
from tests.unit.test_docs_commands import shell_lines

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
# The README's placeholders, and what stands for them here.
UPLOADED = "s3://acme-uploads/poster.jpg"
PLACEHOLDERS = {"s3://bucket/key": UPLOADED, "s3://bucket/prefix": "s3://acme-uploads/"}

# In the README's order, but for the tenant-a block (from its On call section), which the
# replays of the samples need first. "KEY" is the key `tenants key` printed.
RUN = [
    ".venv/bin/cordon --local tenants add acme --bucket acme-uploads --create-bucket --via sns",
    ".venv/bin/cordon --local hashes import docs/examples/hashes.csv",
    ".venv/bin/cordon --local tenants list",
    "cordon tenants key acme --reviewer ana",
    "cordon reviews list --key KEY",
    "cordon --local tenants add tenant-a --bucket tenant-a-uploads --create-bucket",
    "cordon --local replay events/s3-put.json --dry-run",
    "cordon trace s3://bucket/key",
    "cordon replay events/s3-put.json --dry-run",
    "cordon replay events/replay.json --force",
    "cordon dlq list",
    "cordon dlq redrive --all",
    "cordon rescan s3://bucket/prefix --concurrency 4 --rate 50",
]
NOT_RUN = {
    ".venv/bin/cordon local": "runs until stopped: tests/app/test_local_stack.py starts it",
    ".venv/bin/cordon --local demo": "tests/app/test_local_stack.py runs it against that stack",
    "cordon reviews show CASE_ID --key KEY": "tests/functional/test_review.py, from the shell",
    'cordon reviews decide CASE_ID reject --key KEY --reason "a film still"': (
        "tests/functional/test_review.py::test_reviews_from_the_shell"
    ),
    "cordon replay batch.jsonl --tenant acme --since 2026-11-01T00:00:00Z": (
        "the reader's own saved events; the filters: tests/functional/test_oncall.py"
    ),
    "cordon dlq show MESSAGE_ID": "needs a dead letter: tests/functional/test_oncall.py",
}


def readme_commands() -> list[str]:
    lines = [shlex.split(line, comments=True) for line in shell_lines(README.read_text())]
    return [shlex.join(w) for w in lines if w and w[0] in ("cordon", ".venv/bin/cordon")]


def arguments(line: str, key: str = "") -> list[str]:
    words = [PLACEHOLDERS.get(w, w) for w in shlex.split(line)[1:]]
    words = [key if w == "KEY" else w for w in words]
    return [w for w in words if w != "--local"]  # this test's moto is the stack


def test_every_readme_command_is_run_here_or_says_why_not():
    listed = {shlex.join(shlex.split(line)) for line in [*RUN, *NOT_RUN]}
    assert set(readme_commands()) == listed


def test_the_readme_commands_work_as_written(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch, tmp_path: Path
):
    # A fresh clone's files, and a scratch directory for what the commands write (.cordon/)
    for name in ("docs", "events"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    key = ""
    for line in RUN:
        assert main(arguments(line, key)) == 0, line
        out = capsys.readouterr().out
        if line.endswith("hashes import docs/examples/hashes.csv"):
            assert "imported 4 hashes" in out
            # the imported list takes a demo poster down
            world.upload("acme-uploads", "poster.jpg", samples.jpeg(samples.known_bad(1)[0]))
            world.settle()
            assert not world.exists("acme-uploads", "poster.jpg")
        if line.endswith("tenants list"):
            assert '"acme"' in out
        if "tenants key" in line:
            key = out.split()[0]
        if line.startswith("cordon trace"):
            assert "quarantined" in out
