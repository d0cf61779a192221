"""The `cordon` parser: what it imports at start-up, its help texts and defaults, its times."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cordon_cli import main as cli
from cordon_cli.parsing import moment

HEAVY = ("numpy", "PIL", "boto3", "botocore", "rich", "scipy", "chalicelib.wiring")


def loaded_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    modules = json.loads(out.splitlines()[-1])
    return [m for m in HEAVY if m in modules]


def test_importing_the_cli_and_building_its_parser_loads_nothing_heavy():
    # GIVEN a fresh interpreter WHEN `cordon` imports and builds its whole parser
    # THEN none of the libraries that cost start-up time are loaded yet
    assert loaded_after("import cordon_cli.main as m\nm.parser()") == []


def test_help_of_every_command_loads_nothing_heavy():
    code = (
        "import cordon_cli.main as m, contextlib, io\n"
        "for argv in (['--help'], ['cases', '--help'], ['status', '--help'], "
        "['rescan', '--help'], ['compare', '--help']):\n"
        "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "        m.main(argv)"
    )
    assert loaded_after(code) == []


def parsers(
    parser: argparse.ArgumentParser, path: str = "cordon"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}")


def options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help is argparse.SUPPRESS:
            continue
        yield action


def test_every_option_and_argument_has_help_text():
    missing = [
        f"{path} {action.option_strings or action.dest}"
        for path, parser in parsers(cli.parser())
        for action in options(parser)
        if not (action.help or "").strip()
    ]
    assert missing == []


def test_every_default_is_shown_in_the_help():
    hidden = []
    for path, parser in parsers(cli.parser()):
        text = " ".join(parser.format_help().split())
        for action in options(parser):
            if action.default in (None, False) or not action.option_strings:
                continue
            if f"(default: {action.default})" not in text:
                hidden.append(f"{path} {action.option_strings[0]}")
    assert hidden == []


def test_every_command_that_prints_data_takes_json():
    # Commands that print nothing but progress, or whose output is the data in a chosen
    # format, or a secret, are the exceptions.
    exempt = {"cordon local", "cordon demo", "cordon hashes export", "cordon tenants webhook"}
    leaves = [
        (path, parser)
        for path, parser in parsers(cli.parser())
        if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
    ]
    without = [
        path
        for path, parser in leaves
        if path not in exempt and not any("--json" in a.option_strings for a in parser._actions)
    ]
    assert without == []


def test_the_help_texts_pdq_defaults_are_the_signal_types():
    from chalicelib.signals import PDQ

    assert PDQ.max_distance == cli.PDQ_MAX_DISTANCE
    assert PDQ.default_action.value == cli.PDQ_DEFAULT_ACTION


def test_hashes_import_offers_every_registered_signal_type():
    from chalicelib.signals import SIGNAL_TYPES

    assert tuple(sorted(SIGNAL_TYPES)) == cli.SIGNAL_NAMES


NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("3d", NOW - timedelta(days=3)),
        ("30m", NOW - timedelta(minutes=30)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-12-01T08:00:00Z", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026-12-01T08:00:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026-12-01T09:00:00+01:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
    ],
)
def test_times_are_iso_or_ago(text: str, expected: datetime):
    assert moment(text, now=NOW) == expected


def test_a_time_that_is_neither_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["replay", "events.json", "--since", "yesterday"])
    assert exit_.value.code == 2
    assert "neither an ISO time nor a time ago" in capsys.readouterr().err
