"""Signed webhooks: tell a tenant's own endpoint about hash updates, and let it prove they came
from Cordon.

Every delivery is a JSON POST carrying two headers:

``Cordon-Signature: t=<timestamp>,v1=<hex>[,v1=<hex>...]``
    ``t`` is the Unix time (seconds) of signing; each ``v1`` is the lowercase hex
    HMAC-SHA256, keyed with the tenant's webhook secret, of the bytes ``b"<t>." + body``
    (the raw request body, before any JSON parsing). While a secret is being rotated Cordon
    signs with the new and the old one, one ``v1`` entry each, so receivers holding either
    secret accept. Entries of other schemes (``v0=``, ...) are to be ignored.
``Cordon-Event-Id: <id>``
    The same on every retry of one update: receivers drop ids they have already handled,
    since delivery is at least once.

Signing the timestamp with the body lets a receiver refuse replays: a captured request stops
verifying after ``tolerance_seconds`` (five minutes by default).

Receivers in Python verify with `verify` (copy this module, it needs only the standard
library); in other languages, recompute the HMAC above and compare in constant time::

    from chalicelib.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify

    def handle(request):  # any framework: the raw body bytes and the headers
        if not verify(SECRET, request.headers.get(SIGNATURE_HEADER, ""), request.body):
            return 400
        if seen_before(request.headers[EVENT_ID_HEADER]):
            return 200  # a retry of something already handled
        process(json.loads(request.body))
        return 200

Answer 2xx once the update is safely yours. 408, 429 and 5xx (and network errors) are retried
with exponential backoff and full jitter, honouring ``Retry-After`` in seconds; any other
answer is final. Deliveries that keep failing go to a dead-letter queue
(`WebhookDeadLetters`), where `cordon dlq` lists them.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import random
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.errors import REASON_ATTRIBUTE

SIGNATURE_HEADER = "Cordon-Signature"
EVENT_ID_HEADER = "Cordon-Event-Id"
SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300

URL_ATTRIBUTE = "cordon-webhook-url"
DEAD_LETTER_KIND = "cordon.webhook"

# Statuses that say "not now" rather than "never": the receiver may take it on a later try.
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})
MAX_RESPONSE_BYTES = 64 * 1024  # read and dropped: only the status matters
MAX_REASON_CHARS = 1000

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")

Secrets = bytes | Sequence[bytes]
Post = Callable[[str, bytes, Mapping[str, str], float], tuple[int, Mapping[str, str]]]


# --- Signing and verifying: pure --------------------------------------------------------------


def _secrets(secret: Secrets) -> list[bytes]:
    if isinstance(secret, str):
        raise TypeError("webhook secrets are bytes: encode the configured string once")
    return [secret] if isinstance(secret, bytes | bytearray) else list(secret)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``b"<timestamp>." + body``: the ``v1`` value of the header."""
    if not secret:
        raise ValueError("an empty webhook secret signs nothing anyone should trust")
    message = f"{int(timestamp)}.".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def signature_header(secret: Secrets, timestamp: int, body: bytes) -> str:
    """The `SIGNATURE_HEADER` value: one ``v1`` entry per secret (several while rotating)."""
    keys = _secrets(secret)
    if not keys:
        raise ValueError("no webhook secret to sign with")
    entries = [f"t={int(timestamp)}"]
    entries += [f"{SIGNATURE_SCHEME}={sign(key, timestamp, body)}" for key in keys]
    return ",".join(entries)


def parse_signature_header(header_value: object) -> tuple[int, list[str]] | None:
    """The timestamp and ``v1`` digests of a header, or None if it is not one Cordon writes.

    Spaces around entries are allowed, unknown schemes are skipped; a missing, repeated or
    non-numeric ``t`` and a header without any well-formed ``v1`` make it unreadable.
    """
    if not isinstance(header_value, str):
        return None
    timestamp: int | None = None
    digests: list[str] = []
    for entry in header_value.split(","):
        name, equals, value = entry.partition("=")
        name, value = name.strip(), value.strip()
        if not equals:
            continue
        if name == "t":
            if timestamp is not None or not _TIMESTAMP.fullmatch(value):
                return None
            timestamp = int(value)
        elif name == SIGNATURE_SCHEME:
            value = value.lower()
            if _HEX_DIGEST.fullmatch(value):
                digests.append(value)
    if timestamp is None or not digests:
        return None
    return timestamp, digests


def verify(
    secret: Secrets,
    header_value: str,
    body: bytes,
    now: int | None = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True if `body` was signed by Cordon with `secret` within `tolerance_seconds` of `now`.

    For receivers. `body` must be the raw request bytes. `secret` may be several secrets (the
    receiver's side of a rotation). Never raises on what a request carries: a malformed
    header, a stale or future timestamp, a wrong secret or a changed body all give False.
    """
    parsed = parse_signature_header(header_value)
    if parsed is None or not isinstance(body, bytes | bytearray):
        return False
    timestamp, digests = parsed
    current = int(time.time()) if now is None else int(now)
    if abs(current - timestamp) > tolerance_seconds:
        return False
    matched = False
    for key in [key for key in _secrets(secret) if key]:
        expected = sign(key, timestamp, bytes(body))
        for digest in digests:
            # Check every pair, so the time taken says nothing about which one matched.
            matched |= hmac.compare_digest(expected, digest)
    return matched


# --- Retry decisions: pure --------------------------------------------------------------------


class Disposition(StrEnum):
    """What one attempt's outcome means for the delivery."""

    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"


def disposition(status: int | None) -> Disposition:
    """2xx is delivered; 408, 429, 5xx and no answer at all (None) may pass; the rest won't."""
    if status is None or status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
        return Disposition.RETRY
    if 200 <= status < 300:
        return Disposition.DELIVERED
    return Disposition.GIVE_UP


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """The ``Retry-After`` delay if given in seconds (the HTTP-date form is ignored)."""
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def backoff_delay(
    retry: int, base_delay: float, max_delay: float, draw: Callable[[float, float], float]
) -> float:
    """Full jitter: uniform in [0, min(max_delay, base_delay * 2**(retry-1))].

    Random rather than fixed, so receivers that come back up are not hit by every sender at
    the same instant.
    """
    ceiling = min(max_delay, base_delay * 2 ** max(retry - 1, 0))
    return draw(0.0, ceiling)


# --- Delivery: the shell ----------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryResult:
    """How one delivery ended. `status` is the last HTTP status, None if none came back."""

    delivered: bool
    attempts: int
    status: int | None = None
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as is: urllib would resend a POST as a bodiless GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def urllib_post(
    url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> tuple[int, Mapping[str, str]]:
    """POST with the standard library; the status and headers of any HTTP answer.

    Raises OSError (urllib's URLError, timeouts, refused connections) when no answer came.
    """
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(MAX_RESPONSE_BYTES)
            return response.status, dict(response.headers.items())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()) if error.headers else {}


def encode_payload(payload: dict[str, Any]) -> bytes:
    """Compact, key-sorted JSON: the exact bytes that are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def deliver(
    url: str,
    secret: Secrets,
    event_id: str,
    payload: dict[str, Any],
    *,
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    timeout: float = 5.0,
    post: Post | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    draw: Callable[[float, float], float] = random.uniform,
) -> DeliveryResult:
    """POST `payload` to `url`, signed, until the receiver takes it or `attempts` run out.

    Each attempt is signed afresh (a late retry must not arrive stale); the body and event id
    stay the same, so receivers can deduplicate. A ``Retry-After`` longer than `max_delay`
    ends the delivery instead (the dead-letter queue keeps it for later) rather than holding
    a Lambda for it. `post`, `sleep`, `clock` and `draw` are there for tests.
    """
    if not url.lower().startswith(("http://", "https://")):
        return DeliveryResult(False, 0, None, f"not an http(s) URL: {url[:200]!r}")
    attempts = max(attempts, 1)
    send = post or urllib_post
    body = encode_payload(payload)
    status: int | None = None
    error = ""
    for attempt in range(1, attempts + 1):
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Cordon-Webhooks/1",
            EVENT_ID_HEADER: event_id,
            SIGNATURE_HEADER: signature_header(secret, int(clock()), body),
        }
        response_headers: Mapping[str, str] = {}
        try:
            status, response_headers = send(url, body, headers, timeout)
            error = f"HTTP {status}"
        except (OSError, http.client.HTTPException) as failure:
            # Refused, reset, timed out, DNS, a garbled answer: nothing usable came back.
            status, error = None, f"{type(failure).__name__}: {failure}"
        except ValueError as failure:  # urllib cannot even parse the URL
            return DeliveryResult(False, attempt, None, f"unusable URL: {failure}")
        verdict = disposition(status)
        if verdict is Disposition.DELIVERED:
            return DeliveryResult(True, attempt, status)
        if verdict is Disposition.GIVE_UP:
            return DeliveryResult(False, attempt, status, f"{error}: not retried")
        if attempt >= attempts:
            break
        asked = retry_after_seconds(response_headers)
        if asked is not None and asked > max_delay:
            return DeliveryResult(
                False, attempt, status, f"{error}: Retry-After {asked:g} s exceeds {max_delay:g} s"
            )
        delay = backoff_delay(attempt, base_delay, max_delay, draw)
        sleep(max(delay, asked or 0.0))
    return DeliveryResult(False, attempts, status, f"{error}: gave up after {attempts} attempts")


# --- Dead letters: parked on a queue ----------------------------------------------------------


def dead_letter_body(url: str, event_id: str, payload: dict[str, Any]) -> str:
    """Everything needed to deliver again later, as the DLQ message's body."""
    return json.dumps(
        {"kind": DEAD_LETTER_KIND, "url": url, "event_id": event_id, "payload": payload},
        sort_keys=True,
    )


class DeadLetterQueue(Protocol):
    """The webhook DLQ (`chalicelib.adapters.queues.Queue`): a body and string attributes in,
    the message id out."""

    def send(self, body: str, attributes: Mapping[str, str]) -> str: ...


class WebhookDeadLetters:
    """Failed deliveries, parked on a queue with their reason for `cordon dlq`."""

    def __init__(self, queue: DeadLetterQueue) -> None:
        self.queue = queue

    def send(self, url: str, event_id: str, payload: dict[str, Any], result: DeliveryResult) -> str:
        """Park one failed delivery; returns the queue's message id."""
        attributes = {
            REASON_ATTRIBUTE: (result.error or "undelivered")[:MAX_REASON_CHARS],
            URL_ATTRIBUTE: url,
            "cordon-event-id": event_id,
            "cordon-attempts": str(result.attempts),
            "cordon-last-status": "" if result.status is None else str(result.status),
        }
        return self.queue.send(dead_letter_body(url, event_id, payload), attributes)
