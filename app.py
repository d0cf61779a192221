"""Cordon's Lambda handlers: each turns an AWS event into a call on `chalicelib`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from chalice import Chalice, ConvertToMiddleware
from chalice.app import SQSEvent

from chalicelib.settings import Settings
from chalicelib.wiring import Cordon

app = Chalice(app_name="cordon")
logger = Logger(service="cordon")
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context))

_cordon: Cordon | None = None


def cordon() -> Cordon:
    """The adapters, built once per container on first use (not at import: tests and the
    local stack set the environment first)."""
    global _cordon
    if _cordon is None:
        _cordon = Cordon(Settings.from_env())
    return _cordon


def reset() -> None:
    """Forget the adapters (tests and the local stack, when the environment changes)."""
    global _cordon
    _cordon = None


@app.on_sqs_message(queue=Settings().ingest_queue, batch_size=10)
def ingest(event: SQSEvent) -> dict[str, Any]:
    """S3 upload notifications, in any envelope, from the ingest queue."""
    return cordon().ingest.handle_batch(event.to_dict(), event.context)


@app.route("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
