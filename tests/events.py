"""Sample events from `events/`: the bodies AWS (and moto, in `*-moto.json`) deliver."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def load_body(name: str) -> str:
    """The file's text, as an SQS message body would carry it."""
    return (EVENTS_DIR / name).read_text(encoding="utf-8")


def load_event(name: str) -> dict[str, Any]:
    """The file parsed as JSON."""
    return json.loads(load_body(name))
