"""A tenant's webhook endpoint on 127.0.0.1 for tests: an independent receiver that checks
every signature with the documented `verify` and answers from a script."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from chalicelib.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, verify

SECRET = b"whsec-functional"


@dataclass
class Received:
    event_id: str | None
    body: bytes
    verified: bool
    content_type: str | None
    path: str = ""


@dataclass
class Receiver:
    """A tenant's endpoint: checks each signature with `verify` and answers from a script."""

    url: str
    secret: bytes = SECRET
    statuses: list[int] = field(default_factory=list)  # answers to give, then 200s
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: BaseHTTPRequestHandler) -> int:
        length = int(request.headers.get("Content-Length", 0))
        body = request.rfile.read(length)
        signature = request.headers.get(SIGNATURE_HEADER, "")
        with self.lock:
            self.received.append(
                Received(
                    request.headers.get(EVENT_ID_HEADER),
                    body,
                    verify(self.secret, signature, body),
                    request.headers.get("Content-Type"),
                    request.path,
                )
            )
            return self.statuses.pop(0) if self.statuses else 200
