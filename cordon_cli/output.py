"""How `cordon` prints: tables and summaries for a person, JSON for a program.

rich is imported on first use, not at start-up: `cordon --help` and a `--json` read should
not pay for it (see `bench/bench_cli.py`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from typing import Any

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
ROW_COLOURS = {"failed": "red", "processed": "green", "skipped": "cyan", "dry-run": "yellow"}


class LazyConsole:
    """A rich Console built when first used (rich costs ~0.1 s to import)."""

    def __init__(self, stderr: bool = False) -> None:
        self.stderr = stderr
        self._console: Any = None

    def get(self) -> Any:
        """The Console itself (rich's Progress and Live want the real one)."""
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self.stderr else sys.stdout
            # Piped output (CI, `| less`) still gets a table wide enough to read.
            self._console = Console(stderr=self.stderr, width=None if stream.isatty() else 160)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


console = LazyConsole()
err_console = LazyConsole(stderr=True)


def print_json(document: Any) -> None:
    """One JSON document on one line (the `--json` form of a command that prints one)."""
    print(json.dumps(document, default=str), flush=True)


def table(title: str | None, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Any:
    """A rich Table of plain values (escaped: keys and reasons may hold `[`)."""
    from rich.markup import escape
    from rich.table import Table

    shown = Table(title=title)
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        shown.add_row(*[escape("" if v is None else str(v)) for v in row])
    return shown


def emit_rows(
    rows: Iterable[dict[str, Any]],
    as_json: bool,
    title: str,
    columns: tuple[str, ...],
    total: int | None = None,
    show_rows: bool = True,
) -> dict[str, int]:
    """Print rows as they come (JSON lines) or as a table at the end, then a summary (counts
    by status); returns the counts. `show_rows=False` prints the summary alone (the table of
    a 10,000-object rescan is for `--verbose`); JSON lines always carry every row."""
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    counts: dict[str, int] = {}
    collected = []
    started = time.monotonic()
    columns_shown = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    shown_on = err_console.get()
    with Progress(*columns_shown, console=shown_on, transient=True, disable=as_json) as bar:
        task = bar.add_task(title, total=total)
        for row in rows:
            status = str(row.get("status", "done"))
            counts[status] = counts.get(status, 0) + 1
            bar.advance(task)
            if as_json:
                print(json.dumps(row, default=str), flush=True)
            elif show_rows:
                collected.append(row)
    if as_json:
        print(json.dumps({"summary": counts}), flush=True)
        return counts
    if show_rows:
        shown = Table(title=title)
        for column in columns:
            shown.add_column(column, overflow="fold")
        for row in collected:
            colour = ROW_COLOURS.get(str(row.get("status")), "white")
            shown.add_row(
                *[
                    f"[{colour}]{escape(str(row.get(c) or ''))}[/]"
                    if c == "status"
                    else escape(str(row.get(c) or ""))
                    for c in columns
                ]
            )
        console.print(shown)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing"
    seconds = time.monotonic() - started
    console.print(f"[bold]Summary:[/] {sum(counts.values())} in {seconds:.1f} s: {summary}")
    return counts


def exit_code(counts: dict[str, int]) -> int:
    return EXIT_SOME_FAILED if counts.get("failed") else EXIT_OK
