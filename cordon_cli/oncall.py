"""The on-call engineer's tools: replay, dead-letter queues, bucket rescans, trace.

Each function does the work and returns rows (plain dicts); `cordon_cli.main` prints them as a
table or, with `--json`, as JSON lines. None of them can act twice on one object version: they
go through the same idempotent per-object code as the ingest Lambda.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from chalicelib import lifecycle, webhooks
from chalicelib.errors import MalformedEventError, ObjectGoneError, UnknownTenantError
from chalicelib.events import message_bodies, parse_body
from chalicelib.ingest import REASON_ATTRIBUTE
from chalicelib.lifecycle import Case, CaseStatus, Step
from chalicelib.models import ObjectRef, Outcome
from chalicelib.settings import Settings
from chalicelib.wiring import Cordon
from cordon_cli import overview

# -- reading event files ---------------------------------------------------------------------


def read_event_files(paths: Iterable[Path]) -> Iterator[tuple[str, Any]]:
    """(where, body) for every message in the files: one event, a Lambda SQS event, what
    ``aws sqs receive-message`` printed, or JSON lines of any of them.

    `where` is the file, its line for JSON lines, and the message's place in its document:
    ``batch.json#2``, ``saved.jsonl:7#1``. A line that is not JSON is passed on as its text,
    which `replay` reports as failed under its line number; the other lines still run.
    """
    for path in paths:
        for where, document in _documents(path):
            for number, body in enumerate(message_bodies(document), start=1):
                yield f"{where}#{number}", body


def _documents(path: Path) -> Iterator[tuple[str, Any]]:
    text = path.read_text()
    try:
        document = json.loads(text)
    except ValueError:
        pass
    else:
        yield path.name, document
        return
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if len(lines) < 2 or not any(_is_json_object(line) for _, line in lines):
        yield path.name, text  # one broken document: its error names line and column
        return
    for number, line in lines:
        try:
            yield f"{path.name}:{number}", json.loads(line)
        except ValueError:
            yield f"{path.name}:{number}", line


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _parse_time(text: str | None) -> datetime | None:
    """An event's time; one without a zone is UTC, as AWS's event times are."""
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class ReplayFilter:
    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def reason_to_skip(self, cordon: Cordon, ref: ObjectRef) -> str | None:
        if self.tenant:
            tenant = cordon.tenants.for_bucket(ref.bucket)
            if tenant is None or tenant.tenant_id != self.tenant:
                return f"not tenant {self.tenant}"
        if self.since or self.until:
            at = _parse_time(ref.event_time)
            if at is None:
                return "event has no time to filter on"
            if self.since and at < self.since:
                return "before --since"
            if self.until and at > self.until:
                return "after --until"
        return None


def replay(
    cordon: Cordon,
    messages: Iterable[tuple[str, Any]],
    dry_run: bool = False,
    force: bool = False,
    only: ReplayFilter | None = None,
    progress: Callable[[], None] = lambda: None,
) -> Iterator[dict[str, Any]]:
    """Run each message through the pipeline; rows say what happened to each object."""
    only = only or ReplayFilter()
    for where, body in messages:
        try:
            parsed = parse_body(body)
        except MalformedEventError as error:
            yield {"source": where, "status": "failed", "detail": f"malformed: {error}"}
            progress()
            continue
        for reason in parsed.ignored:
            yield {"source": where, "status": "ignored", "detail": reason}
        for ref in parsed.refs:
            yield _replay_one(cordon, where, ref, dry_run, force, only)
            progress()


def _replay_one(
    cordon: Cordon, where: str, ref: ObjectRef, dry_run: bool, force: bool, only: ReplayFilter
) -> dict[str, Any]:
    row: dict[str, Any] = {"source": where, "object": ref.uri}
    skip = only.reason_to_skip(cordon, ref)
    if skip:
        return {**row, "status": "filtered", "detail": skip}
    try:
        ref = cordon.pipeline.identify(ref)
        if dry_run:
            try:
                tenant, _, verdict, read_from = cordon.pipeline.evaluate(ref)
            except ObjectGoneError as gone:
                # What the real run records too (a `gone` case, exit 0): nothing to judge.
                owner = cordon.tenants.for_bucket(ref.bucket)
                return {
                    **row,
                    "status": "dry-run",
                    "tenant": owner.tenant_id if owner else None,
                    "outcome": Outcome.GONE.value,
                    "detail": f"gone: {gone}",
                }
            return {
                **row,
                "status": "dry-run",
                "tenant": tenant.tenant_id,
                "action": verdict.action.value,
                "detail": f"read from {read_from}: " + verdict.reasons[0],
            }
        tenant = cordon.tenants.for_bucket(ref.bucket)
        case = cordon.cases.get(ref.case_id(tenant.tenant_id)) if tenant else None
        if case and not force and _nothing_left(cordon, ref, case):
            return {
                **row,
                "status": "skipped",
                "tenant": case.tenant_id,
                "case_id": case.case_id,
                "action": case.verdict.action.value if case.verdict else None,
                "detail": f"already handled: case {case.status}",
            }
        result = cordon.pipeline.process(ref, force=True) if force else cordon.ingest.process(ref)
    except UnknownTenantError:
        return {**row, "status": "failed", "detail": _no_tenant(ref.bucket)}
    except Exception as error:  # an on-call tool reports each failure, it does not stop
        return {**row, "status": "failed", "detail": f"{type(error).__name__}: {error}"}
    if result.outcome is Outcome.NO_TENANT:
        return {
            **row,
            "status": "failed",
            "outcome": result.outcome.value,
            "detail": _no_tenant(ref.bucket),
        }
    return {
        **row,
        "status": "processed",
        "tenant": result.tenant_id,
        "case_id": result.case_id,
        "outcome": result.outcome.value,
        "action": result.verdict.action.value if result.verdict else None,
        "detail": result.detail or (result.verdict.reasons[0] if result.verdict else ""),
    }


def _nothing_left(cordon: Cordon, ref: ObjectRef, case: Case) -> bool:
    """Whether an object's case leaves nothing to do, judged by what is in the bucket now:
    an object kept in place is not read again, a removed one is checked for being back."""
    if case.status in (CaseStatus.ALLOWED, CaseStatus.REINSTATED):
        return True
    step = lifecycle.next_step(case.state, present=cordon.pipeline.present(ref))
    return step is Step.ALREADY_HANDLED


def _no_tenant(bucket: str) -> str:
    return (
        f"no tenant owns bucket {bucket}: register it with "
        f"`cordon [--local] tenants add TENANT --bucket {bucket}`"
    )


# -- dead-letter queues ----------------------------------------------------------------------


def queue_url(cordon: Cordon, queue: str | None) -> str:
    if not queue:
        queue = cordon.settings.ingest_dlq
    if queue.startswith(("http://", "https://")):
        return queue
    return cordon.sqs.get_queue_url(QueueName=queue)["QueueUrl"]


def _receive(sqs: Any, url: str, visibility: int) -> Iterator[list[dict[str, Any]]]:
    """Batches of a queue's messages, with their attributes, until it has none to give."""
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=visibility,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            return
        yield batch


def _release(sqs: Any, url: str, handles: list[str]) -> None:
    """Make received messages visible again at once."""
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)


def _peek(cordon: Cordon, url: str, limit: int) -> list[dict[str, Any]]:
    """Messages of a queue, received and released at once (their receive count grows)."""
    seen: dict[str, dict[str, Any]] = {}
    handles = []
    for batch in _receive(cordon.sqs, url, visibility=30):
        for message in batch:
            seen.setdefault(message["MessageId"], message)
            handles.append(message["ReceiptHandle"])
        if len(seen) >= limit:
            break
    _release(cordon.sqs, url, handles)
    return list(seen.values())[:limit]


def _describe(message: dict[str, Any], body: dict[str, Any] | None) -> dict[str, Any]:
    """What a dead-lettered message holds and why it was parked; `body` is its body as
    `_json_body` reads it (read once by the caller)."""
    attributes = message.get("Attributes", {})
    custom = message.get("MessageAttributes", {})
    webhook = _webhook_delivery(body)
    stream_batch = body.get("DDBStreamBatchInfo") if body else None
    if webhook is not None:
        objects = [
            f"webhook {webhook['url']}: {len(webhook['payload'].get('updates', []))} updates"
        ]
    elif isinstance(stream_batch, dict):
        # What Lambda's on-failure destination says of a stream batch it gave up on.
        objects = [
            f"hash stream batch: shard {stream_batch.get('shardId')}, sequence numbers "
            f"{stream_batch.get('startSequenceNumber')} to {stream_batch.get('endSequenceNumber')}"
        ]
    else:
        try:
            # A body that is no JSON object is read again, for parse_body's own error.
            parsed = parse_body(body if body is not None else message["Body"])
            objects = [ref.uri for ref in parsed.refs] or list(parsed.ignored)
        except MalformedEventError as error:
            objects = [f"(unreadable: {error})"]
    sent = attributes.get("SentTimestamp")
    return {
        "message_id": message["MessageId"],
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
        "sent_at": datetime.fromtimestamp(int(sent) / 1000).isoformat() if sent else None,
        "reason": custom.get(REASON_ATTRIBUTE, {}).get("StringValue", "(no reason recorded)"),
        "source_queue": custom.get("cordon-source-queue", {}).get("StringValue"),
        "objects": objects,
    }


def dlq_list(cordon: Cordon, queue: str | None, limit: int = 100) -> list[dict[str, Any]]:
    """The queue's messages, described. SQS has no peek: listing receives each message once,
    which adds one to its receive count; `receive_count` is the count from before this
    listing (each earlier `dlq list` or `dlq show` counted one)."""
    rows = [_describe(m, _json_body(m)) for m in _peek(cordon, queue_url(cordon, queue), limit)]
    return [{**row, "receive_count": max(row["receive_count"] - 1, 0)} for row in rows]


def dlq_show(cordon: Cordon, queue: str | None, message_id: str) -> dict[str, Any] | None:
    for message in _peek(cordon, queue_url(cordon, queue), 1000):
        if message["MessageId"] == message_id:
            return {
                **_describe(message, _json_body(message)),
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "message_attributes": message.get("MessageAttributes", {}),
            }
    return None


def _redrive_target(cordon: Cordon, url: str, message: dict[str, Any], to: str | None) -> str:
    if to:
        return queue_url(cordon, to)
    source = message.get("MessageAttributes", {}).get("cordon-source-queue", {})
    arn = source.get("StringValue", "")
    if arn.startswith("arn:aws:sqs:"):
        return cordon.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
    sources = cordon.sqs.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", [])
    if len(sources) == 1:
        return sources[0]
    return queue_url(cordon, cordon.settings.ingest_queue)


def dlq_redrive(
    cordon: Cordon, queue: str | None, ids: list[str] | None = None, to: str | None = None
) -> list[dict[str, Any]]:
    """Move dead-lettered messages (all, or those named) back to their source queue.

    Done with receive/send/delete so that chosen messages can be moved, and so that it works
    wherever SQS runs; SQS's own StartMessageMoveTask (`--native`) moves all at once on AWS.
    """
    url = queue_url(cordon, queue)
    sqs = cordon.sqs
    moved = []
    wanted = set(ids or [])
    others = []
    for batch in _receive(sqs, url, visibility=60):
        for message in batch:
            if wanted and message["MessageId"] not in wanted:
                others.append(message["ReceiptHandle"])
                continue
            body = _json_body(message)
            webhook = _webhook_delivery(body)
            if webhook is not None:
                # A webhook is redriven by delivering it again, signed with today's secret.
                result = _deliver_again(cordon, webhook)
                if not result.delivered:
                    others.append(message["ReceiptHandle"])
                    moved.append(
                        {**_describe(message, body), "moved_to": f"not delivered: {result.error}"}
                    )
                    continue
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                moved.append({**_describe(message, body), "moved_to": webhook["url"]})
                continue
            target = _redrive_target(cordon, url, message, to)
            sqs.send_message(
                QueueUrl=target,
                MessageBody=message["Body"],
                MessageAttributes={
                    "cordon-redriven-from": {"DataType": "String", "StringValue": url}
                },
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            moved.append({**_describe(message, body), "moved_to": target})
    _release(sqs, url, others)
    return moved


def _json_body(message: dict[str, Any]) -> dict[str, Any] | None:
    try:
        body = json.loads(message["Body"])
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _webhook_delivery(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """The parked delivery a webhook DLQ message's body holds, or None for any other body."""
    return body if body and body.get("kind") == webhooks.DEAD_LETTER_KIND else None


def _deliver_again(cordon: Cordon, parked: dict[str, Any]) -> webhooks.DeliveryResult:
    subscription = next((h for h in cordon.tenants.webhooks() if h.url == parked["url"]), None)
    if subscription is None:
        return webhooks.DeliveryResult(False, 0, None, "no tenant has this webhook any more")
    secrets = [secret.encode() for secret in subscription.secrets]
    return webhooks.deliver(parked["url"], secrets, parked["event_id"], parked["payload"])


def dlq_redrive_native(cordon: Cordon, queue: str | None, to: str | None) -> dict[str, Any]:
    url = queue_url(cordon, queue)

    def arn(queue_url_: str) -> str:
        return cordon.sqs.get_queue_attributes(QueueUrl=queue_url_, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    kwargs = {"SourceArn": arn(url)}
    if to:
        kwargs["DestinationArn"] = arn(queue_url(cordon, to))
    response = cordon.sqs.start_message_move_task(**kwargs)
    return {"task_handle": response["TaskHandle"], "source": url}


# -- bucket rescans --------------------------------------------------------------------------


def parse_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"expected s3://bucket/prefix, got {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


@dataclass
class Checkpoint:
    """Where a rescan got to: every key up to `start_after` is done."""

    path: Path
    uri: str
    start_after: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def for_uri(cls, directory: Path, uri: str, restart: bool) -> Checkpoint:
        name = hashlib.sha256(uri.encode()).hexdigest()[:16] + ".json"
        path = directory / name
        if path.exists() and not restart:
            saved = json.loads(path.read_text())
            return cls(path, uri, saved["start_after"], saved.get("counts", {}))
        return cls(path, uri)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(
            json.dumps({"uri": self.uri, "start_after": self.start_after, "counts": self.counts})
        )

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)


class RateLimiter:
    """At most `per_second` starts a second, across threads."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            delay = self.next_at - now
            self.next_at = max(now, self.next_at) + self.interval
        if delay > 0:
            time.sleep(delay)


def rescan_total(settings: Settings, uri: str, checkpoint_dir: Path, restart: bool) -> int:
    """How many objects a rescan has left, for its progress bar's count and ETA: one LIST a
    1,000 keys (against a GET an object for the rescan itself), from the checkpoint on."""
    bucket, prefix = parse_s3_uri(uri)
    start_after = Checkpoint.for_uri(checkpoint_dir, uri, restart).start_after
    pages = (
        Cordon(settings)
        .s3.get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=prefix, StartAfter=start_after)
    )
    return sum(page.get("KeyCount", 0) for page in pages)


def rescan(
    settings: Settings,
    uri: str,
    checkpoint_dir: Path,
    concurrency: int = 4,
    rate: float = 50.0,
    page_size: int = 1000,
    restart: bool = False,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda n: None,
) -> Iterator[dict[str, Any]]:
    """Every object under the prefix through the pipeline, page by page, resumable.

    Object versions that already have a final case are skipped without being read. After each
    page the checkpoint moves past it, so an interrupted rescan resumes at the first page it
    had not finished. Each worker thread builds its own clients (boto3 resources are not
    thread-safe).
    """
    bucket, prefix = parse_s3_uri(uri)
    checkpoint = Checkpoint.for_uri(checkpoint_dir, uri, restart)
    local = threading.local()

    def cordon() -> Cordon:
        if not hasattr(local, "cordon"):
            local.cordon = Cordon(settings)
        return local.cordon

    limiter = RateLimiter(rate)

    def work(ref: ObjectRef) -> dict[str, Any]:
        limiter.wait()
        return _replay_one(cordon(), uri, ref, dry_run, False, ReplayFilter())

    lister = Cordon(settings).s3.get_paginator("list_objects_v2")
    pages = lister.paginate(
        Bucket=bucket,
        Prefix=prefix,
        StartAfter=checkpoint.start_after,
        PaginationConfig={"PageSize": page_size},
    )
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for page in pages:
            refs = [
                ObjectRef(bucket, obj["Key"], etag=obj["ETag"], size=obj["Size"], envelope="rescan")
                for obj in page.get("Contents", [])
            ]
            if not refs:
                continue
            for row in pool.map(work, refs):
                checkpoint.counts[row["status"]] = checkpoint.counts.get(row["status"], 0) + 1
                progress(1)
                yield row
            if not dry_run:
                checkpoint.start_after = refs[-1].key
                checkpoint.save()
    if not dry_run:
        checkpoint.finish()


# -- trace -----------------------------------------------------------------------------------


def trace(cordon: Cordon, target: str) -> dict[str, Any]:
    """Everything known about one object (s3://bucket/key) or one case (its id)."""
    if target.startswith("s3://"):
        bucket, key = parse_s3_uri(target)
        tenant = cordon.tenants.for_bucket(bucket)
        report: dict[str, Any] = {"object": target, "tenant": tenant.tenant_id if tenant else None}
        report["now"] = overview.object_now(cordon.s3, bucket, key)
        cases = (
            [
                c
                for c in cordon.cases.for_tenant(tenant.tenant_id)
                if c.object.get("bucket") == bucket and c.object.get("key") == key
            ]
            if tenant
            else []
        )
    else:
        case = cordon.cases.get(target)
        report = {"case_id": target}
        cases = [case] if case else []
    report["cases"] = [_case_story(cordon, case.to_dict()) for case in cases]
    if target.startswith("s3://"):
        for case, story in zip(cases, report["cases"], strict=True):
            _compare_with_bucket(case, story, report["now"])
    return report


def _compare_with_bucket(case: Case, story: dict[str, Any], now: dict[str, Any]) -> None:
    story["in_bucket_now"], attention = overview.bucket_state(case, now)
    if attention:
        story["attention"] = attention


def _case_story(cordon: Cordon, case: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "case_id",
        "tenant_id",
        "status",
        "created_at",
        "updated_at",
        "history",
        "object",
        "signals",
        "verdict",
        "evidence",
        "detail",
        "review",
        "decisions",
        "notice",
    )
    story = {k: case[k] for k in keep if k in case}
    story["audit"] = [
        {k: row[k] for k in ("at", "event", "actor", "detail") if k in row}
        for row in cordon.cases.audit_trail(case["case_id"])
    ]
    review = dict(case.get("review") or {})
    review.pop("token", None)  # the workflow's, not the engineer's
    if "review" in story:
        story["review"] = review
    if review.get("execution_arn"):
        try:
            execution = cordon.client("stepfunctions").describe_execution(
                executionArn=review["execution_arn"]
            )
            story["review_execution"] = {
                "status": execution["status"],
                "started": str(execution["startDate"]),
            }
        except Exception as error:  # the trace still shows everything else
            story["review_execution"] = {"error": str(error)}
    return story
