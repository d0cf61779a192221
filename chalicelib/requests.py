"""The reviewers' API requests, read and checked before a handler acts on them.

Each reader takes the request's raw body (or query parameters) and returns plain values, or
raises `RequestError` (400) whose message names the field. A value of the wrong type never
reaches the services: `"labels": 5` used to be a 500, and `"labels": "abc"` three labels.
Fields a reader does not know are ignored.

>>> decision(b'{"action": "reject", "reason": "news reporting", "labels": ["press"]}')
Decision(action='reject', reason='news reporting', labels=('press',))
>>> decision(b'{"action": "confirm", "labels": "abc"}')
Traceback (most recent call last):
...
chalicelib.errors.RequestError: labels must be a list of strings, not a string
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import RequestError
from chalicelib.opinions import OPINIONS
from chalicelib.review import ACTIONS

# A reason goes into the uploader's statement of reasons and, with the labels, into the case
# item, which DynamoDB caps at 400 KB with every decision and notice it holds.
MAX_REASON_CHARS = 4000
MAX_LABELS = 20
MAX_LABEL_CHARS = 100
MAX_FEED_PAGE = 1000


@dataclass(frozen=True)
class Decision:
    action: str
    reason: str
    labels: tuple[str, ...]


def json_object(raw: bytes | str | None) -> dict[str, Any]:
    """The body as a JSON object; no body at all reads as an empty one."""
    if raw is None or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise RequestError("the body must be a JSON object: it is not JSON") from None
    if not isinstance(body, dict):
        raise RequestError(f"the body must be a JSON object, not {_kind(body)}")
    return body


def decision(raw: bytes | str | None) -> Decision:
    """POST /cases/{id}/decision: {"action", "reason"?, "labels"?}."""
    body = json_object(raw)
    return Decision(
        action=_choice(body, "action", ACTIONS),
        reason=_text(body, "reason"),
        labels=_labels(body, "labels"),
    )


def appeal(raw: bytes | str | None) -> str:
    """POST /cases/{id}/appeal: {"reason"}, which the new review and the uploader will read."""
    return _text(json_object(raw), "reason", required=True)


def opinion(raw: bytes | str | None) -> tuple[str, str]:
    """POST /hashes/{type}/{value}/opinion: {"opinion", "reason"?}."""
    body = json_object(raw)
    return _choice(body, "opinion", OPINIONS), _text(body, "reason")


def allow(raw: bytes | str | None) -> str:
    """PUT /hashes/{type}/{value}/allow: {"reason"?}."""
    return _text(json_object(raw), "reason")


def feed_page(params: Mapping[str, str] | None) -> tuple[int, int]:
    """GET /hashes/feed?cursor=&limit=: the cursor to read after and a page size of 1-1000."""
    params = params or {}
    values = []
    for field, default in (("cursor", "0"), ("limit", "100")):
        text = params.get(field, default)
        if not (text.isascii() and text.isdigit()):  # no sign, space, "1e3" or "²"
            raise RequestError(f"{field} must be a whole number, not {text!r}")
        values.append(int(text))
    cursor, limit = values
    return cursor, min(max(limit, 1), MAX_FEED_PAGE)


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    names |= {int: "a number", float: "a number"}
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")


def _choice(body: dict[str, Any], field: str, choices: tuple[str, ...]) -> str:
    value = body.get(field)
    if not isinstance(value, str) or value not in choices:
        shown = repr(value) if isinstance(value, str) else _kind(value)
        raise RequestError(f"{field} must be one of {', '.join(choices)}, not {shown}")
    return value


def _text(body: dict[str, Any], field: str, required: bool = False) -> str:
    value = body.get(field, "")
    if not isinstance(value, str):
        raise RequestError(f"{field} must be a string, not {_kind(value)}")
    if required and not value.strip():
        raise RequestError(f"{field} must not be empty")
    if len(value) > MAX_REASON_CHARS:
        raise RequestError(f"{field} must be at most {MAX_REASON_CHARS} characters")
    return value


def _labels(body: dict[str, Any], field: str) -> tuple[str, ...]:
    value = body.get(field, [])
    if not isinstance(value, list):
        raise RequestError(f"{field} must be a list of strings, not {_kind(value)}")
    if len(value) > MAX_LABELS:
        raise RequestError(f"{field} must hold at most {MAX_LABELS} labels")
    labels = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise RequestError(f"{field} must be a list of non-empty strings, not {item!r}")
        if len(item) > MAX_LABEL_CHARS:
            raise RequestError(f"{field}: a label must be at most {MAX_LABEL_CHARS} characters")
        labels.append(item.strip())
    return tuple(dict.fromkeys(labels))  # in order, each once
