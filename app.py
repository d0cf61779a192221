"""Cordon's Lambda handlers: each turns an AWS event or request into a call on `chalicelib`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chalice import AuthResponse, Chalice, ConvertToMiddleware, Rate, Response
from chalice.app import AuthRequest, CloudWatchEvent, DynamoDBEvent, SQSEvent

from chalicelib import requests
from chalicelib.claims import STUCK_AFTER_SECONDS
from chalicelib.errors import RequestError
from chalicelib.logs import logger
from chalicelib.models import Tenant
from chalicelib.opinions import canonical_hash
from chalicelib.review import Reviewer, handle_work_batch
from chalicelib.settings import Settings
from chalicelib.sharing import deliver_webhooks, handle_stream_batch
from chalicelib.updates import HashUpdate
from chalicelib.wiring import Cordon

# Chalice's own log setup would take over the "cordon" logger, powertools' (the same name):
# level ERROR and a second, plain-text handler on stdout. Powertools keeps it: JSON, one line a
# record, level INFO unless POWERTOOLS_LOG_LEVEL says otherwise; Chalice's errors go through it.
app = Chalice(app_name="cordon", configure_logs=False)
# clear_state: a warm container's next invocation starts without the last one's keys.
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context(clear_state=True)))

# chalice local and Chalice's test client read only the Authorization header, so that is the
# one that carries the key ("Bearer <key>"), everywhere alike.
API_KEY_HEADER = "Authorization"
STATIC = Path(__file__).resolve().parent / "chalicelib" / "static"
REVIEW_PAGE = STATIC / "review.html"

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


# -- event sources ---------------------------------------------------------------------------
# Batches of up to 20 (Lambda gathers them for at most 1 s, the merge template's batching
# window): half the invocations, receives and deletes of batches of 10, well inside the
# function's 60 s even for objects streamed at the size cap.
@app.on_sqs_message(queue=Settings().ingest_queue, batch_size=20)
def ingest(event: SQSEvent) -> dict[str, Any]:
    """S3 upload notifications, in any envelope, from the ingest queue."""
    return cordon().ingest.handle_batch(event.to_dict(), event.context)


@app.on_sqs_message(queue=Settings().review_queue, batch_size=10)
def review_worker(event: SQSEvent) -> dict[str, Any]:
    """The review workflow's steps that need code (task tokens to keep, decisions to apply)."""
    services = cordon()
    return handle_work_batch(
        services.reviews, event.to_dict(), services.settings.max_receives, event.context
    )


@app.on_dynamodb_record(stream_arn=Settings().hashes_stream_arn, batch_size=100)
def hash_updates(event: DynamoDBEvent) -> dict[str, Any]:
    """Every change to the shared hash table, published for the tenants subscribed to it;
    a partial batch response (ReportBatchItemFailures) names the first record not published."""
    services = cordon()

    def after(updates: list[HashUpdate]) -> dict[str, int]:
        hooks = services.tenants.webhooks()
        delivered = deliver_webhooks(updates, hooks, services.webhook_dead_letters) if hooks else {}
        return {"rescanned": len(services.retro_scanner.scan(updates)), **delivered}

    return handle_stream_batch(
        event.to_dict().get("Records", []),
        services.update_publisher.publish,
        after,
        services.hash_updates_dlq,
    )


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_decisions(event: CloudWatchEvent) -> dict[str, Any]:
    """Decisions stuck `deciding` (the answer to the claim, or the Lambda, was lost) sent to
    the workflow again, or given back (`cordon reviews sweep` does the same on demand)."""
    swept = cordon().reviews.sweep_claims(STUCK_AFTER_SECONDS)
    return {"swept": len(swept), "cases": swept}


# -- the reviewers' API ----------------------------------------------------------------------
# Not named `api_key`: Chalice's swagger takes a security definition of that name for its
# `api_key_required` flag and writes an `x-api-key` requirement over the custom authorizer.
@app.authorizer(header=API_KEY_HEADER, ttl_seconds=0)
def reviewer_key(auth_request: AuthRequest) -> AuthResponse:
    """Reviewers send "Authorization: Bearer <API key>"; only the key's SHA-256 is stored."""
    token = (auth_request.token or "").removeprefix("Bearer ").strip()
    found = cordon().tenants.reviewer_for_key(token)
    if found is None:
        return AuthResponse(routes=[], principal_id="anonymous")
    tenant_id, reviewer_id = found
    return AuthResponse(
        routes=["*"],
        principal_id=reviewer_id,
        context={"tenant_id": tenant_id, "reviewer_id": reviewer_id},
    )


def _reviewer() -> Reviewer:
    context = (app.current_request.context or {}).get("authorizer", {})
    return Reviewer(tenant_id=context["tenant_id"], reviewer_id=context["reviewer_id"])


def _tenant() -> Tenant:
    tenant_id = _reviewer().tenant_id
    return cordon().tenants.get(tenant_id) or Tenant(tenant_id)


def _answer(work: Callable[[], Any], status: int = 200) -> Response:
    try:
        return Response(body=work(), status_code=status)
    except RequestError as error:
        return Response(body={"error": str(error)}, status_code=error.status)


def _raw_body() -> bytes | None:
    # The raw body, not Chalice's json_body: that one is None unless the Content-Type says
    # JSON, and its own 400 for bad JSON has another shape than ours.
    return app.current_request.raw_body


@app.route("/reviews", authorizer=reviewer_key)
def review_queue() -> Response:
    params = app.current_request.query_params or {}
    return _answer(
        lambda: {
            "cases": cordon().reviews.queue(
                _reviewer(), status=params.get("status"), label=params.get("label")
            )
        }
    )


@app.route("/cases/{case_id}", authorizer=reviewer_key)
def view_case(case_id: str) -> Response:
    return _answer(lambda: cordon().reviews.view(_reviewer(), case_id))


@app.route("/cases/{case_id}/decision", methods=["POST"], authorizer=reviewer_key)
def decide(case_id: str) -> Response:
    def work() -> dict[str, Any]:
        decision = requests.decision(_raw_body())
        return cordon().reviews.decide(
            _reviewer(), case_id, decision.action, decision.reason, list(decision.labels)
        )

    return _answer(work, status=202)


@app.route("/cases/{case_id}/appeal", methods=["POST"], authorizer=reviewer_key)
def appeal(case_id: str) -> Response:
    return _answer(
        lambda: cordon().reviews.appeal(_reviewer(), case_id, requests.appeal(_raw_body())),
        status=202,
    )


@app.route("/cases/{case_id}/statement", authorizer=reviewer_key)
def statement(case_id: str) -> Response:
    return _answer(lambda: cordon().reviews.statement(_reviewer(), case_id))


@app.route("/hashes/feed", authorizer=reviewer_key)
def hash_feed() -> Response:
    """Shared hash updates after `cursor`, in order, removals and disputes included."""

    def work() -> dict[str, Any]:
        cursor, limit = requests.feed_page(app.current_request.query_params)
        # Updates this tenant may not see are skipped; the cursor moves past them all the same.
        updates, next_cursor = cordon().hashes.feed.read(cursor, limit, reader=_tenant())
        return {"updates": updates, "cursor": next_cursor, "more": next_cursor - cursor >= limit}

    return _answer(work)


@app.route("/hashes/{signal_type}/{value}/opinion", methods=["POST"], authorizer=reviewer_key)
def hash_opinion(signal_type: str, value: str) -> Response:
    """A tenant confirms or disputes a shared hash it can see: {"opinion", "reason"}."""

    def work() -> dict[str, Any]:
        opinion, reason = requests.opinion(_raw_body())
        return cordon().opinions.give(_tenant(), signal_type, value, opinion, reason)

    return _answer(work)


@app.route(
    "/hashes/{signal_type}/{value}/allow", methods=["PUT", "DELETE"], authorizer=reviewer_key
)
def hash_allow(signal_type: str, value: str) -> Response:
    """The tenant's private allow-list: a shared hash on it stops matching for this tenant."""
    reviewer = _reviewer()
    tenants = cordon().tenants

    def change() -> dict[str, Any]:
        canonical = canonical_hash(signal_type, value)
        if app.current_request.method == "DELETE":
            tenants.unallow_hash(reviewer.tenant_id, signal_type, canonical)
            return {"signal_type": signal_type, "value": canonical, "allowed": False}
        reason = requests.allow(_raw_body())
        tenants.allow_hash(reviewer.tenant_id, signal_type, canonical, reviewer.reviewer_id, reason)
        return {"signal_type": signal_type, "value": canonical, "allowed": True}

    return _answer(change)


# The page, its script and its styles come from this API and the image from the evidence
# bucket (a presigned URL); nothing else loads, nothing inline runs, nobody may frame it.
REVIEW_PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _evidence_origins() -> str:
    """Where presigned evidence URLs point: the S3 endpoint the adapters use (moto's, locally)
    and its subdomains (virtual-hosted buckets)."""
    endpoint = urlsplit(cordon().s3.meta.endpoint_url)
    return f"{endpoint.scheme}://{endpoint.netloc} {endpoint.scheme}://*.{endpoint.netloc}"


def _static(name: str, content_type: str, policy: str | None = None) -> Response:
    headers = {
        "Content-Type": content_type,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
    if policy:
        headers["Content-Security-Policy"] = policy
    return Response(body=(STATIC / name).read_text(), status_code=200, headers=headers)


@app.route("/review")
def review_page() -> Response:
    """The reviewers' page: it asks for the API key and calls the routes above."""
    policy = REVIEW_PAGE_POLICY.format(images=_evidence_origins())
    return _static(REVIEW_PAGE.name, "text/html; charset=utf-8", policy)


@app.route("/review.js")
def review_script() -> Response:
    return _static("review.js", "text/javascript; charset=utf-8")


@app.route("/review.css")
def review_styles() -> Response:
    return _static("review.css", "text/css; charset=utf-8")


@app.route("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
