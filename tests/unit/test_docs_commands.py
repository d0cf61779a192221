"""Every `cordon` command the docs show exists, with the options and values they give it: each
command of a shell block (and each `.venv/bin/cordon ...` of the deployment guide) is parsed by
the command's own parser (nothing runs); a command named in a sentence (`cordon rescan
--signals [--tenant T]`) must name subcommands and options it has. The README's blocks that
can run locally are run in `tests/functional/test_readme.py`."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from cordon_cli.main import parser

ROOT = Path(__file__).resolve().parents[2]
# Docs with shell blocks of commands; and every doc that names commands in its sentences.
RUNNABLE_DOCS = [ROOT / "README.md", ROOT / "docs" / "deploy.md"]
DOCS = [*RUNNABLE_DOCS, ROOT / "docs" / "runbook.md"]
# Where inline code (`...`) is held to it too: the deployment guide's every command.
INLINE_TOO = {ROOT / "docs" / "deploy.md"}
SHELL_BLOCK = re.compile(r"^ *```(?:sh|bash)\n(.*?)^ *```", re.S | re.M)
# Inline, a command to run is written whole (`.venv/bin/cordon ...`); `cordon tenants add` in
# a sentence names one.
INLINE = re.compile(r"`(\.venv/bin/cordon [^`]+)`")
NAMED = re.compile(r"`cordon ([^`]+)`")


def shell_lines(text: str) -> list[str]:
    """The command lines of the doc's sh blocks, continuation lines joined."""
    lines: list[str] = []
    for block in SHELL_BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            lines.append(line.strip())
    return lines


def cordon_commands(path: Path) -> list[list[str]]:
    """The arguments of every `cordon` command the doc shows (comments dropped)."""
    text = path.read_text()
    candidates = shell_lines(text)
    if path in INLINE_TOO:
        candidates += [" ".join(span.split()) for span in INLINE.findall(text)]
    commands = []
    for line in candidates:
        words = shlex.split(line, comments=True) if line else []
        if words and words[0] in ("cordon", ".venv/bin/cordon"):
            commands.append(words[1:])
    return commands


def parse_error(arguments: list[str]) -> str | None:
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        try:
            parser().parse_args(arguments)
        except SystemExit:
            return errors.getvalue().strip().splitlines()[-1]
    return None


@pytest.mark.parametrize("path", RUNNABLE_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cordon_command_in_the_docs_parses(path: Path):
    commands = cordon_commands(path)
    assert commands, f"{path.name} shows no cordon command"
    failures = [
        f"cordon {shlex.join(arguments)}: {error}"
        for arguments in commands
        if (error := parse_error(arguments)) is not None
    ]
    assert failures == []


def unknown_names(words: list[str]) -> list[str]:
    """The subcommands and options in `words` (a synopsis: `a|b` alternatives, `[--opt X]`)
    that the parser does not have."""
    unknown: list[str] = []
    command = parser()
    for word in (w.strip("[]") for w in words):
        subcommands = next(
            (a.choices for a in command._actions if isinstance(a, argparse._SubParsersAction)),
            None,
        )
        if word.startswith("--"):
            option = word.split("=", 1)[0]
            known = {o for a in command._actions for o in a.option_strings} | {"--local"}
            unknown += [] if option in known else [word]
        elif subcommands and (word.isidentifier() or "|" in word):
            names = word.split("|")
            unknown += [name for name in names if name not in subcommands]
            if names[0] in subcommands:
                command = subcommands[names[0]]
    return unknown


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cordon_command_named_in_a_sentence_exists_with_its_options(path: Path):
    named = [span.split() for span in NAMED.findall(path.read_text())]
    failures = [f"cordon {' '.join(w)}: {unknown_names(w)}" for w in named if unknown_names(w)]
    assert failures == []


def test_the_guide_covers_the_steps_a_platform_engineer_takes():
    commands = {" ".join(a[:2]) for a in cordon_commands(ROOT / "docs" / "deploy.md")}
    for step in ("tenants add", "tenants key", "hashes import", "dlq list", "tenants list"):
        assert step in commands, step
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for needed in ("make package", "sam deploy", "aws cloudformation deploy", "CAPABILITY_IAM"):
        assert needed in guide, needed
    assert "docs/deploy.md" in (ROOT / "README.md").read_text(), "the README links the guide"


def test_a_wrong_option_is_caught():
    # The checks themselves: a flag the command lacks, or a value outside its choices, fails.
    assert parse_error(["tenants", "add", "acme", "--bucket", "b", "--via", "carrier-pigeon"])
    assert parse_error(["dlq", "list", "--everything"])
    assert parse_error(["tenants", "add", "acme", "--bucket", "b", "--via", "sns"]) is None
    assert unknown_names(["rescan", "--signals", "[--tenant", "T]"]) == []
    assert unknown_names(["reviews", "list|show|judge", "--key", "K"]) == ["judge"]
    assert unknown_names(["dlq", "list", "--everything"]) == ["--everything"]
