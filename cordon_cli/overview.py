"""The on-call engineer's overview: `cordon cases list|show`, `cordon status`, `cordon trace`.

Reads only. Each command gathers a report (plain dicts, through Cordon's adapters, imported
when the command runs) and draws it with a pure renderer (`render_case`, `render_status`):
what a person reads and what `--json` prints are the same report.

`cases` and `tenants list` build only the adapters they read (`Reads`), not the wiring, which
loads numpy and PIL for the pipeline: they start in about 0.4 s instead of 1 s or more.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.errors import UnknownTenantError
from chalicelib.lifecycle import CaseStatus, Step, next_step
from cordon_cli.output import EXIT_OK, EXIT_SOME_FAILED, console, print_json, table
from cordon_cli.parsing import JSON_LINES, command, json_flag, moment, subcommands

if TYPE_CHECKING:
    from chalicelib.adapters.cases import CaseStore
    from chalicelib.adapters.tenants import TenantRegistry
    from chalicelib.lifecycle import Case
    from chalicelib.settings import Settings


def register(commands: argparse._SubParsersAction) -> None:
    cases = subcommands(
        command(commands, "cases", "cases by tenant, status, label, time"), "cases_command"
    )
    listing = command(cases, "list", "cases, newest first: id, tenant, status, labels, object")
    listing.add_argument(
        "--tenant", action="append", help="only this tenant (repeatable; unset: every tenant)"
    )
    listing.add_argument(
        "--status", choices=[s.value for s in CaseStatus], help="only cases in this status"
    )
    listing.add_argument("--label", help="only cases that matched a hash with this label")
    listing.add_argument(
        "--since", type=moment, help="created at or after: an ISO time, or 30m, 2h, 3d ago"
    )
    listing.add_argument(
        "--until", type=moment, help="created at or before: an ISO time, or 30m, 2h, 3d ago"
    )
    listing.add_argument("--limit", type=int, default=50, help="at most this many rows")
    json_flag(listing, JSON_LINES)
    listing.set_defaults(func=cmd_cases_list)
    show = command(cases, "show", "one case: object, verdict, matches, evidence, review, audit")
    show.add_argument("case_id", help="the case's id (from `cases list` or `trace`)")
    json_flag(show)
    show.set_defaults(func=cmd_cases_show)

    status = command(
        commands, "status", "is the stack up? queues, dead letters, index freshness, alarms"
    )
    status.add_argument(
        "--snapshot-lag",
        type=int,
        default=SNAPSHOT_LAG_LIMIT,
        help="hashes a snapshot may trail the table by before it needs attention",
    )
    json_flag(status)
    status.set_defaults(func=cmd_status)

    trace = command(commands, "trace", "everything known about an object or a case")
    trace.add_argument("target", help="s3://bucket/key or a case id")
    json_flag(trace)
    trace.set_defaults(func=cmd_trace)


# -- what the read commands are given -------------------------------------------------------


@dataclass
class Reads:
    """The adapters the read commands use, without `chalicelib.wiring`."""

    settings: Settings
    session: Any

    @classmethod
    def from_env(cls) -> Reads:
        import boto3

        from chalicelib.settings import Settings

        return cls(Settings.from_env(), boto3.session.Session())

    @cached_property
    def cases(self) -> CaseStore:
        from chalicelib.adapters.cases import CaseStore

        return CaseStore(self.session.resource("dynamodb").Table(self.settings.cases_table))

    @cached_property
    def tenants(self) -> TenantRegistry:
        from chalicelib.adapters.tenants import TenantRegistry

        return TenantRegistry(self.session.resource("dynamodb").Table(self.settings.tenants_table))

    @cached_property
    def s3(self) -> Any:
        return self.session.client("s3")

    def client(self, service: str) -> Any:
        return self.session.client(service)


def _iso(moment_: datetime) -> str:
    """As `now_iso` writes times (UTC, milliseconds): comparable as text with stored ones."""
    return moment_.astimezone(UTC).isoformat(timespec="milliseconds")


# -- cases list -------------------------------------------------------------------------------


def list_cases(
    reads: Reads,
    tenants: list[str] | None = None,
    status: str | None = None,
    label: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Case]:
    """Cases of these tenants (every registered one if none), newest first, read through the
    `by_tenant_status` index: `--since` narrows what is read (a case's status time is never
    before its creation), the other filters are applied to what was read."""
    names = tenants or sorted(t.tenant_id for t in reads.tenants.all())
    for name in tenants or ():
        if reads.tenants.get(name) is None:
            raise UnknownTenantError(f"no tenant {name}")
    low = _iso(since) if since else None
    high = _iso(until) if until else None
    found = [
        case
        for name in names
        for case in reads.cases.for_tenant(name, status, low)
        if (low is None or case.created_at >= low)
        and (high is None or case.created_at <= high)
        and (label is None or label in case.labels)
    ]
    return sorted(found, key=lambda case: case.created_at, reverse=True)


def case_row(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "tenant_id": case.tenant_id,
        "status": case.status.value,
        "action": case.verdict.action.value if case.verdict else None,
        "labels": case.labels,
        "created_at": case.created_at,
        "object": case.uri,
    }


def cmd_cases_list(args: argparse.Namespace) -> int:
    cases = list_cases(
        Reads.from_env(), args.tenant, args.status, args.label, args.since, args.until
    )
    rows = [case_row(case) for case in cases[: args.limit]]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    if args.json:
        for row in rows:
            print_json(row)
        print_json({"summary": counts, "matched": len(cases), "shown": len(rows)})
        return EXIT_OK
    console.print(
        table(
            None,
            ("case id", "tenant", "status", "action", "labels", "created", "object"),
            (
                (
                    r["case_id"],
                    r["tenant_id"],
                    r["status"],
                    r["action"],
                    ", ".join(r["labels"]),
                    r["created_at"][:19].replace("T", " "),
                    r["object"],
                )
                for r in rows
            ),
        )
    )
    more = f" (the newest {len(rows)} of {len(cases)}: --limit)" if len(cases) > len(rows) else ""
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no cases"
    console.print(f"{by_status}{more}", highlight=False)
    return EXIT_OK


# -- one case, as `cases show` and `trace` draw it ---------------------------------------------

STATUS_MEANING = {
    "allowed": "judged and left in place",
    "quarantining": "being moved to evidence (a retry or a replay finishes it)",
    "quarantined": "removed by an automated takedown; the copy is kept as evidence",
    "pending_review": "removed; waiting for a reviewer's decision",
    "escalated": "removed; waiting for a second reviewer",
    "appeal_pending": "removed; an appeal waits for a reviewer who has not decided it before",
    "deciding": "a reviewer's decision is being applied",
    "attached": "removed; follows the review of an earlier case of the same bytes",
    "confirmed": "removed; a reviewer confirmed the takedown",
    "reinstated": "a reviewer rejected the takedown: the object was put back",
    "gone": "deleted by its owner before Cordon read it",
}
RETENTION_MEANING = {
    "COMPLIANCE": (
        "S3 Object Lock, COMPLIANCE mode: nobody (the account's root user included) can "
        "delete or overwrite this copy before then, nor shorten the date"
    ),
    "GOVERNANCE": (
        "S3 Object Lock, GOVERNANCE mode: deleting it before then needs the "
        "s3:BypassGovernanceRetention permission"
    ),
}


def object_now(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """What is at the key now (one HEAD)."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError:
        return {"in_bucket": False}
    return {
        "in_bucket": True,
        "etag": head["ETag"].strip('"'),
        "version_id": head.get("VersionId"),
        "size": head["ContentLength"],
    }


def bucket_state(case: Case, now: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether the case's object is the one at its key now, and what needs attention: a case
    that removed its object while the same bytes are public again is a re-upload not yet
    handled, which the case alone would hide."""
    obj = case.object
    same = bool(now["in_bucket"]) and (
        obj.get("version_id") == now.get("version_id")
        if obj.get("version_id")
        else obj.get("etag") == now.get("etag")
    )
    step = next_step(case.state, present=same)
    if step is Step.REMOVE_AGAIN:
        return same, (
            f"the object is in the bucket again although this case {case.status} it "
            "(a re-upload not yet handled): `cordon replay --force` on it removes it again"
        )
    if step in (Step.FINISH_REMOVAL, Step.RESUME_QUARANTINE):
        return same, "the quarantine did not finish: a retry or a replay completes it"
    return same, None


def evidence_now(s3: Any, evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence copy as S3 holds it now: there or not, and its Object Lock (one HEAD)."""
    version = evidence.get("version_id")
    try:
        head = s3.head_object(
            Bucket=evidence["bucket"],
            Key=evidence["key"],
            **({"VersionId": version} if version else {}),
        )
    except s3.exceptions.ClientError:
        return {"present": False}
    until = head.get("ObjectLockRetainUntilDate")
    return {
        "present": True,
        "lock_mode": head.get("ObjectLockMode"),
        "retain_until": until.isoformat() if until else None,
    }


def thresholds(settings: Settings, tenants: Any, case: dict[str, Any]) -> dict[str, Any]:
    """For each signal type the case matched through: exact or not, its bits, and the
    distance the tenant's policy matches within today. Only cases with matches pay for the
    signal types' import (numpy)."""
    matches = (case.get("verdict") or {}).get("matches") or []
    if not matches:
        return {}
    from chalicelib.models import Policy
    from chalicelib.policy import match_distances
    from chalicelib.signals import SIGNAL_TYPES

    tenant = tenants.get(case["tenant_id"])
    distances = match_distances(tenant.policy if tenant else Policy(), settings.match_distances)
    shown = {}
    for name in sorted({m["signal_type"] for m in matches}):
        kind = SIGNAL_TYPES.get(name)
        exact = kind is None or kind.exact
        shown[name] = {
            "exact": exact,
            "bits": getattr(kind, "bits", None),
            "max_distance": 0 if exact else distances.get(name, 0),
        }
    return shown


def case_report(reads: Reads, case: Case) -> dict[str, Any]:
    """`cases show --json`: the case's `to_dict()`, its audit trail oldest first, and what
    is in the buckets now."""
    report = case.to_dict()
    review = dict(report.get("review") or {})
    if "review" in report:
        review.pop("token", None)  # the workflow's, not the engineer's
        report["review"] = review
    report["audit"] = sorted(reads.cases.audit_trail(case.case_id), key=lambda r: r["at"])
    now = object_now(reads.s3, case.object.get("bucket", ""), case.object.get("key", ""))
    report["now"] = now
    report["in_bucket_now"], attention = bucket_state(case, now)
    if attention:
        report["attention"] = attention
    if case.evidence:
        report["evidence_now"] = evidence_now(reads.s3, case.evidence)
    report["thresholds"] = thresholds(reads.settings, reads.tenants, report)
    return report


def _short(value: Any, width: int = 16) -> str:
    text = str(value or "")
    return text if len(text) <= width else text[:width] + "…"


def _detail(detail: Any) -> str:
    if not detail:
        return ""
    if isinstance(detail, dict):
        # The scalars: lists and maps (the verdict's matches...) are shown above, whole.
        shown = {
            k: v
            for k, v in detail.items()
            if v not in (None, "") and not isinstance(v, list | dict)
        }
        return ", ".join(f"{k}={_short(v, 40)}" for k, v in shown.items())
    return _short(detail, 80)


def render_match(match: dict[str, Any], rule: dict[str, Any] | None) -> str:
    how = (
        f"equals shared hash {_short(match['matched_value'])}"
        if (rule or {}).get("exact") or match["distance"] == 0
        else f"{match['distance']} bits from shared hash {_short(match['matched_value'])}"
    )
    if rule and not rule["exact"]:
        how += f" (distance in bits of {rule['bits']}; match ≤ {rule['max_distance']})"
    if match.get("variant", "original") != "original":
        how += f", through the upload's {match['variant']} variant"
    if match.get("stored_variant", "original") != "original":
        how += f", a stored {match['stored_variant']} variant of the shared image"
    if match.get("status", "active") != "active":
        how += f"; the shared hash is {match['status']}"
    labels = ", ".join(match.get("labels") or []) or "no labels"
    return f"{match['signal_type']} {how} [{labels}; source {match.get('source') or '?'}]"


def render_case(report: dict[str, Any]) -> list[str]:
    """A case as lines of text, for a person (pure: everything comes in the report)."""
    status = report["status"]
    obj = report.get("object") or {}
    lines = [
        f"case {report['case_id']}",
        f"  tenant    {report['tenant_id']}",
        f"  status    {status}: {STATUS_MEANING.get(status, '')}",
        f"  created   {report.get('created_at')}   updated {report.get('updated_at')}",
        f"  object    s3://{obj.get('bucket')}/{obj.get('key')}",
        f"            version {obj.get('version_id') or '-'}, ETag {obj.get('etag') or '-'}, "
        f"{obj.get('size', '?')} bytes",
    ]
    if "in_bucket_now" in report:
        here = "yes" if report["in_bucket_now"] else "no"
        lines.append(f"            in the bucket now: {here}")
    if report.get("attention"):
        lines.append(f"  ATTENTION {report['attention']}")
    if report.get("detail"):
        lines.append(f"  detail    {report['detail']}")
    verdict = report.get("verdict")
    if verdict:
        lines.append(f"  verdict   {verdict['action']}")
        lines.extend(f"            - {reason}" for reason in verdict.get("reasons", []))
        rules = report.get("thresholds") or {}
        for match in verdict.get("matches", []):
            lines.append(f"  match     {render_match(match, rules.get(match['signal_type']))}")
    evidence = report.get("evidence")
    if evidence:
        lines.append(f"  evidence  s3://{evidence.get('bucket')}/{evidence.get('key')}")
        lines.append(
            f"            version {evidence.get('version_id') or '-'}, "
            f"SHA-256 {_short(evidence.get('checksum_sha256'), 64)}"
        )
        held = report.get("evidence_now") or {}
        until = held.get("retain_until") or evidence.get("retain_until")
        if held and not held.get("present"):
            lines.append("            NOT FOUND in the evidence bucket")
        if until:
            mode = held.get("lock_mode")
            meaning = RETENTION_MEANING.get(
                mode or "", "S3 Object Lock retention: it cannot be deleted before then"
            )
            lines.append(f"            locked until {until[:10]} ({meaning})")
    review = report.get("review")
    if review:
        parts = [
            f"{k} {review[k]}" for k in ("kind", "stage", "started_at", "deadline") if review.get(k)
        ]
        lines.append(f"  review    {', '.join(parts) or '-'}")
        if review.get("excluded"):
            lines.append(f"            may not decide: {', '.join(review['excluded'])}")
    execution = report.get("review_execution")
    if execution:
        lines.append(f"  workflow  {execution.get('status') or execution.get('error')}")
    for decision in report.get("decisions") or []:
        labels = ", ".join(decision.get("labels") or [])
        lines.append(
            f"  decision  {decision.get('at')} {decision.get('reviewer')}: {decision.get('action')}"
            + (f" ({decision['reason']})" if decision.get("reason") else "")
            + (f" [{labels}]" if labels else "")
        )
    notice = report.get("notice")
    if notice:
        restriction = (notice.get("restriction") or {}).get("type", "?")
        lines.append(
            f"  notice    statement of reasons: restriction {restriction}, "
            f"decision {notice.get('automated_decision', '?')} automated "
            f"(GET /cases/{report['case_id']}/statement)"
        )
    if report.get("attached"):
        lines.append(f"  attached  {', '.join(report['attached'])}")
    if report.get("attached_to"):
        lines.append(f"  follows   the review of case {report['attached_to']}")
    history = " -> ".join(f"{h['status']} {h['at'][11:19]}" for h in report.get("history", []))
    lines.append(f"  history   {history}")
    lines.append("  audit trail (oldest first):")
    for row in sorted(report.get("audit", []), key=lambda r: r.get("at", "")):
        lines.append(
            f"    {row.get('at')}  {row.get('event')}  by {row.get('actor')}  "
            f"{_detail(row.get('detail'))}".rstrip()
        )
    return lines


def print_lines(lines: list[str]) -> None:
    # Plain print: keys and reasons may hold `[`, which rich would read as markup.
    print("\n".join(lines), flush=True)


def cmd_cases_show(args: argparse.Namespace) -> int:
    reads = Reads.from_env()
    case = reads.cases.get(args.case_id)
    if case is None:
        console.print(f"[red]no case {args.case_id}[/]")
        return EXIT_SOME_FAILED
    report = case_report(reads, case)
    if args.json:
        print_json(report)
    else:
        print_lines(render_case(report))
    return EXIT_OK


# -- trace ------------------------------------------------------------------------------------


def render_trace(report: dict[str, Any]) -> list[str]:
    lines = []
    if "object" in report:
        now = report.get("now") or {}
        state = (
            f"in the bucket: version {now.get('version_id') or '-'}, ETag {now.get('etag')}, "
            f"{now.get('size')} bytes"
            if now.get("in_bucket")
            else "not in the bucket"
        )
        lines += [f"object {report['object']}", f"  tenant    {report.get('tenant') or '(none)'}"]
        lines.append(f"  now       {state}")
    if not report["cases"]:
        lines.append("no case: Cordon has not recorded this object (or this case id)")
    for story in report["cases"]:
        lines.append("")
        lines.extend(render_case(story))
    return lines


def cmd_trace(args: argparse.Namespace) -> int:
    from chalicelib.settings import Settings
    from chalicelib.wiring import Cordon
    from cordon_cli import oncall

    cordon = Cordon(Settings.from_env())
    report = oncall.trace(cordon, args.target)
    if args.json:
        print_json(report)
    else:
        for story in report["cases"]:
            story["thresholds"] = thresholds(cordon.settings, cordon.tenants, story)
            if story.get("evidence"):
                story["evidence_now"] = evidence_now(cordon.s3, story["evidence"])
        print_lines(render_trace(report))
    return EXIT_OK if report["cases"] else EXIT_SOME_FAILED


# -- status -----------------------------------------------------------------------------------

# A snapshot this many hashes behind the table makes each cold container read them all from
# the table's index before its first match: time to take a new one.
SNAPSHOT_LAG_LIMIT = 10_000
# The ingest backlog alarm's threshold (infra/monitoring.json): a message waiting this long.
BACKLOG_AGE_LIMIT = 900
# Messages a DLQ is peeked for the oldest one's age, when CloudWatch has no figure.
PEEK_LIMIT = 100
# Queues of the template whose names the settings may override.
QUEUE_SETTINGS = {
    "IngestQueue": "ingest_queue",
    "IngestDeadLetterQueue": "ingest_dlq",
    "ReviewWorkQueue": "review_queue",
    "WebhookDeadLetterQueue": "webhook_dlq",
}


def template_queues(settings: Settings) -> list[tuple[str, bool]]:
    """(name, is a dead-letter queue) for every queue of infra/resources.json."""
    from cordon_cli.bootstrap import load_template

    found = []
    for logical, resource in load_template()["Resources"].items():
        if resource["Type"] != "AWS::SQS::Queue":
            continue
        setting = QUEUE_SETTINGS.get(logical)
        name = getattr(settings, setting) if setting else resource["Properties"]["QueueName"]
        found.append((name, logical.endswith("DeadLetterQueue")))
    return found


def oldest_age(reads: Reads, url: str, name: str, dead: bool, depth: int) -> tuple[Any, str]:
    """(seconds, how it was learnt) of the queue's oldest message. CloudWatch's
    ApproximateAgeOfOldestMessage where it has a datapoint (AWS); else, for a dead-letter
    queue, a peek at up to PEEK_LIMIT messages (received and released at once: their receive
    count grows, harmless in a DLQ) taking the earliest SentTimestamp; a live queue is not
    peeked (a receive counts towards its redrive to the DLQ and hides it from the consumer)."""
    import time
    from datetime import timedelta

    if depth == 0:
        return 0, "empty"
    now = datetime.now(UTC)
    try:
        points = reads.client("cloudwatch").get_metric_statistics(
            Namespace="AWS/SQS",
            MetricName="ApproximateAgeOfOldestMessage",
            Dimensions=[{"Name": "QueueName", "Value": name}],
            StartTime=now - timedelta(minutes=10),
            EndTime=now,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
    except Exception:  # no CloudWatch access: fall back
        points = []
    if points:
        latest = max(points, key=lambda p: p["Timestamp"])
        return int(latest["Maximum"]), "cloudwatch"
    if not dead:
        return None, "unknown (no CloudWatch datapoint; a live queue is not peeked)"
    sqs = reads.client("sqs")
    sent, handles = [], []
    while len(handles) < PEEK_LIMIT:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            AttributeNames=["SentTimestamp"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            sent.append(int(message["Attributes"]["SentTimestamp"]) / 1000)
            handles.append(message["ReceiptHandle"])
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    if not sent:
        return None, "unknown (no message could be peeked)"
    return int(time.time() - min(sent)), f"peek of {len(sent)} of {depth} messages"


def queue_report(reads: Reads, name: str, dead: bool) -> dict[str, Any]:
    sqs = reads.client("sqs")
    row: dict[str, Any] = {"name": name, "dead_letter": dead}
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
    except sqs.exceptions.ClientError as error:
        return {**row, "error": str(error), "attention": f"queue {name} cannot be read"}
    depth = int(attributes["ApproximateNumberOfMessages"])
    row.update(
        depth=depth,
        in_flight=int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
    )
    row["oldest_seconds"], row["oldest_from"] = oldest_age(reads, url, name, dead, depth)
    if dead and depth:
        row["attention"] = f"{depth} dead letters: `cordon dlq list {name}`"
    elif not dead and (row["oldest_seconds"] or 0) >= BACKLOG_AGE_LIMIT:
        row["attention"] = f"oldest message waiting {row['oldest_seconds']} s"
    return row


def index_report(reads: Reads, lag_limit: int) -> list[dict[str, Any]]:
    """Per indexed signal type: the snapshot's watermark and time against the table's newest
    hash. (Imports the hash table's adapter, and with it numpy.)"""
    from chalicelib.adapters.hashes import HashTable, IndexSnapshots
    from chalicelib.signals import indexed_types

    settings = reads.settings
    bucket = settings.index_bucket
    snapshots = IndexSnapshots(reads.s3, bucket) if bucket else None
    hashes = HashTable(
        reads.session.resource("dynamodb").Table(settings.hashes_table), snapshots=snapshots
    )
    rows = []
    for kind in indexed_types():
        newest = hashes.newest(kind.name)
        top = int(newest["seq"]) if newest else 0
        row: dict[str, Any] = {
            "signal_type": kind.name,
            "table_seq": top,
            "table_newest_at": newest.get("added_at") if newest else None,
            "snapshot": None,
        }
        if snapshots is None:
            row["note"] = "no index bucket (CORDON_INDEX_BUCKET): cold containers read the table"
        else:
            row["snapshot"] = snapshots.describe(kind.name)
        watermark = (row["snapshot"] or {}).get("watermark", 0)
        row["behind"] = max(0, top - watermark)
        if snapshots is not None and row["behind"] > lag_limit:
            row["attention"] = (
                f"the snapshot is {row['behind']} hashes behind: `cordon index snapshot`"
            )
        rows.append(row)
    return rows


def alarms_report(reads: Reads) -> list[dict[str, Any]]:
    cloudwatch = reads.client("cloudwatch")
    rows = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        StateValue="ALARM", AlarmNamePrefix="cordon-"
    ):
        for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
            since = alarm.get("StateUpdatedTimestamp")
            rows.append(
                {
                    "name": alarm["AlarmName"],
                    "reason": alarm.get("StateReason", ""),
                    "since": since.isoformat() if since else None,
                }
            )
    return rows


def gather_status(reads: Reads, lag_limit: int = SNAPSHOT_LAG_LIMIT) -> dict[str, Any]:
    """`cordon status --json`: the stack, its queues, the index and the alarms, and the list
    of what needs attention (empty: all well)."""
    session = reads.session
    report: dict[str, Any] = {
        "stack": {
            "endpoint": os.environ.get("AWS_ENDPOINT_URL") or "AWS (boto3's default endpoints)",
            "region": session.region_name,
        },
        "queues": [],
        "index": [],
        "alarms": [],
    }
    try:
        report["stack"]["account"] = session.client("sts").get_caller_identity()["Account"]
        reads.cases.table.load()  # the cases table answers: Cordon is deployed here
        report["stack"]["reachable"] = True
    except Exception as error:  # every way of not reaching it is the same answer
        report["stack"].update(reachable=False, error=f"{type(error).__name__}: {error}")
        report["attention"] = [f"the stack cannot be reached: {report['stack']['error']}"]
        return report
    report["queues"] = [queue_report(reads, n, d) for n, d in template_queues(reads.settings)]
    report["index"] = index_report(reads, lag_limit)
    report["alarms"] = alarms_report(reads)
    report["attention"] = [
        *(row["attention"] for row in report["queues"] + report["index"] if "attention" in row),
        *(f"alarm {a['name']}: {a['reason']}" for a in report["alarms"]),
    ]
    return report


def _age(seconds: Any) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds} s"


def render_status(report: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The header lines, and the queue table's rows."""
    stack = report["stack"]
    lines = [
        f"stack     {'reachable' if stack.get('reachable') else 'NOT REACHABLE'}: "
        f"{stack['endpoint']}, account {stack.get('account', '?')}, region {stack['region']}"
    ]
    for row in report["index"]:
        snapshot = row.get("snapshot")
        state = (
            f"snapshot at seq {snapshot['watermark']} ({snapshot['count']} hashes, saved "
            f"{snapshot['saved_at'][:19]}), {row['behind']} behind"
            if snapshot
            else row.get("note") or f"no snapshot: {row['behind']} hashes to read from the table"
        )
        lines.append(
            f"index     {row['signal_type']}: table at seq {row['table_seq']} "
            f"(newest {(row['table_newest_at'] or '-')[:19]}); {state}"
        )
    alarms = report["alarms"]
    lines.append(f"alarms    {len(alarms)} in ALARM" if alarms else "alarms    none in ALARM")
    lines.extend(f"          {a['name']} since {a['since']}: {a['reason']}" for a in alarms)
    rows = [
        (
            q["name"],
            "dead letters" if q["dead_letter"] else "work",
            q.get("depth", "?"),
            q.get("in_flight", "?"),
            _age(q.get("oldest_seconds")) if q.get("depth") else "-",
            q.get("oldest_from", q.get("error", "")),
        )
        for q in report["queues"]
    ]
    return lines, rows


def cmd_status(args: argparse.Namespace) -> int:
    report = gather_status(Reads.from_env(), args.snapshot_lag)
    if args.json:
        print_json(report)
    else:
        lines, rows = render_status(report)
        print_lines(lines)
        if rows:
            console.print(
                table(None, ("queue", "kind", "depth", "in flight", "oldest", "age from"), rows)
            )
        if report["attention"]:
            print_lines(["NEEDS ATTENTION:", *(f"  - {item}" for item in report["attention"])])
        else:
            print_lines(["all well"])
    return EXIT_SOME_FAILED if report["attention"] else EXIT_OK


__all__ = ["case_report", "gather_status", "list_cases", "register", "render_case"]
