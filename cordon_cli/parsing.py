"""The parser's shared parts: how every (sub)command shows its help, defaults and `--json`.

Standard library only: `cordon --help` builds the whole parser.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

JSON_LINES = "JSON lines, one a row, then a summary line"
ONE_OBJECT = "one JSON object"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's own, showing a default only where there is one to show (not for flags,
    nor for an option whose absence means "follow something else", which its help says)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "%(default)" in text:
            return text
        return super()._get_help_string(action) or text


def command(group: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    """A (sub)command whose `--help` starts with its one-line summary and shows defaults."""
    return group.add_parser(name, help=text, description=text, formatter_class=HelpFormatter)


def subcommands(parent: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction:
    return parent.add_subparsers(dest=dest, required=True, metavar="COMMAND")


def json_flag(parser: argparse.ArgumentParser, shape: str = ONE_OBJECT) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {shape} (docs/cli.md)")


def lazy(module: str, function: str) -> Callable[[argparse.Namespace], int]:
    """A command's function, imported when the command runs (its module may load boto3 or
    numpy, which `--help` and the other commands need not pay for)."""

    def run(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module(module), function)(args))

    return run


_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def moment(text: str, now: datetime | None = None) -> datetime:
    """An ISO time (UTC unless it says otherwise) or a time ago: `30m`, `2h`, `3d`, `1w`."""
    found = _AGO.match(text.strip())
    if found:
        ago = timedelta(**{_UNIT[found.group(2)]: float(found.group(1))})
        return (now or datetime.now(UTC)) - ago
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an ISO time nor a time ago like 2h or 3d"
        ) from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
