"""The demo scenario: known-bad hashes in, two tenants upload, watch what Cordon does.

It can run again on the same stack: each run registers its own tenants (`alpha`, `beta`, then
`alpha-2`, `beta-2`...) and uploads its own scenes (`samples.demo_set(run=...)`), so what an
earlier run shared, confirmed or decided meets none of its uploads, and no tenant is ever
registered twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from chalicelib import signals
from chalicelib.lifecycle import CaseStatus
from chalicelib.models import Action, HashRecord, ObjectRef, Policy
from chalicelib.policy import action_for, match_distances
from chalicelib.review import Reviewer
from chalicelib.sharing import subscription_filter
from chalicelib.wiring import Cordon
from cordon_cli import samples
from cordon_cli.operations import add_tenant, subscribe_queue

LABELS = ("terrorist-propaganda", "demo-entity")
# The two tenants' roles: alpha takes PDQ matches down, beta sends them to human review.
ROLES = (("alpha", "sqs"), ("beta", "eventbridge"))


@dataclass(frozen=True)
class Run:
    """The names one run of the demo uses; run 1 has the plain ones."""

    number: int

    def tenant(self, role: str) -> str:
        return role if self.number == 1 else f"{role}-{self.number}"

    def bucket(self, role: str) -> str:
        return f"{self.tenant(role)}-uploads"

    @property
    def updates_queue(self) -> str:
        return f"{self.tenant('alpha')}-hash-updates"

    def taken(self, cordon: Cordon) -> bool:
        """Whether an earlier run (or anyone) already holds one of its tenants or buckets."""
        return any(
            cordon.tenants.get(self.tenant(role)) or cordon.tenants.for_bucket(self.bucket(role))
            for role, _ in ROLES
        )


def next_run(cordon: Cordon) -> Run:
    """The first run whose tenants and buckets nobody holds yet."""
    run = Run(1)
    while run.taken(cordon):
        run = Run(run.number + 1)
    return run


@dataclass
class Upload:
    tenant_id: str
    sample: samples.Sample
    ref: ObjectRef
    role: str = "alpha"


def seed_hashes(cordon: Cordon, originals: list[bytes]) -> int:
    """The originals' PDQ hashes, and the first one's SHA-256, become shared hashes."""
    records = []
    for index, data in enumerate(originals):
        examination = signals.examine_bytes(data, cordon.settings.max_image_pixels)
        for signal in examination.signals:
            if signal.variant != "original":
                continue  # match variants are for queries, not for the shared table
            if signal.type == "pdq" or (signal.type == "sha256" and index == 0):
                records.append(HashRecord(signal.type, signal.value, LABELS, source="demo-import"))
    return cordon.hashes.put(records)


def upload_all(cordon: Cordon, run: Run, uploads: list[samples.Sample]) -> list[Upload]:
    done = []
    for index, sample in enumerate(uploads):
        role = ROLES[index % len(ROLES)][0]
        bucket, key = run.bucket(role), f"uploads/{index:02d} {sample.name}"
        response = cordon.s3.put_object(
            Bucket=bucket, Key=key, Body=sample.data, ContentType="image/jpeg"
        )
        ref = ObjectRef(bucket, key, response.get("VersionId"), response["ETag"])
        done.append(Upload(run.tenant(role), sample, ref, role))
    return done


def case_view(cordon: Cordon, case_id: str) -> dict[str, Any] | None:
    """A case as the API shows it (the demo prints what a reviewer or an engineer would see)."""
    case = cordon.cases.get(case_id)
    return case.to_dict() if case else None


def wait_for_cases(
    cordon: Cordon, uploads: list[Upload], timeout: float, console: Console
) -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("pipeline at work", total=len(uploads))
        deadline = time.monotonic() + timeout
        while len(cases) < len(uploads) and time.monotonic() < deadline:
            for upload in uploads:
                case_id = upload.ref.case_id(upload.tenant_id)
                if case_id in cases:
                    continue
                case = case_view(cordon, case_id)
                if case and CaseStatus(case["status"]).settled:
                    cases[case_id] = case
            progress.update(task, completed=len(cases))
            time.sleep(0.3)
    return cases


def summary(verdict: dict[str, Any], case: dict[str, Any] | None) -> str:
    """One line of the verdict's reasons, for the table."""
    if case is None:
        return "not processed before the timeout"
    matches = verdict.get("matches", [])
    if matches:
        kinds = sorted({m["signal_type"] for m in matches})
        labels = sorted({label for m in matches for label in m["labels"]})
        return escape(f"matched {'+'.join(kinds)} [{', '.join(labels)}]")
    return (verdict.get("reasons") or [case.get("detail", "")])[0]


def location(cordon: Cordon, upload: Upload, case: dict[str, Any] | None) -> str:
    if case and case.get("evidence"):
        until = (case["evidence"].get("retain_until") or "")[:10]
        return f"evidence bucket, locked until {until}" if until else "evidence bucket"
    try:
        cordon.s3.head_object(Bucket=upload.ref.bucket, Key=upload.ref.key)
    except Exception:
        return "removed"
    return "in place"


def distance_header(threshold: int) -> str:
    """The demo table's distance column: its unit, and the distance a match is within."""
    return f"distance (bits, match ≤ {threshold})"


def expected_action(role: str, sample: samples.Sample) -> str:
    if not sample.known_bad:
        return "ALLOW"
    # beta sends perceptual matches to human review; exact ones are taken down everywhere.
    if role == "beta" and sample.edit != "exact copy":
        return "REVIEW"
    return "TAKEDOWN"


def run(cordon: Cordon, console: Console, timeout: float = 120.0, attached: bool = True) -> bool:
    """Run the scenario; True if every upload got the verdict expected and both reviews
    ended as decided. `attached`: on a stack that outlives the demo (`cordon local`), so the
    commands suggested at the end can be run against it."""
    started = time.monotonic()
    demo_run = next_run(cordon)
    if demo_run.number > 1:
        console.print(
            f"tenants {Run(1).tenant('alpha')} and {Run(1).tenant('beta')} and their buckets "
            f"are taken (an earlier demo on this stack): this is run {demo_run.number}, with "
            f"tenants {demo_run.tenant('alpha')} and {demo_run.tenant('beta')} and scenes "
            "of its own"
        )
    originals, uploads = samples.demo_set(run=demo_run.number)
    for role, via in ROLES:
        tenant_id, bucket = demo_run.tenant(role), demo_run.bucket(role)
        policy = Policy(pdq_action=Action.REVIEW) if role == "beta" else Policy()
        add_tenant(cordon, tenant_id, [bucket], via=via, policy=policy, create_buckets=True)
        console.print(
            f"[bold]1.[/] tenant {tenant_id}: bucket {bucket}, notifications via {via}, "
            f"PDQ matches -> {action_for(policy, signals.PDQ).value}"
        )
    # alpha's subscription to the hash updates: new shared hashes, of those it may see.
    alpha = cordon.tenants.get(demo_run.tenant("alpha"))
    assert alpha is not None
    updates_queue = subscribe_queue(
        cordon,
        demo_run.updates_queue,
        cordon.settings.hash_updates_topic_arn,
        subscription_filter(alpha, {"change": ["added"]}),
    )
    early = early_upload(cordon, demo_run, uploads, timeout, console)
    console.print(
        f"[bold]2.[/] {seed_hashes(cordon, originals)} known-bad hashes imported "
        f"(PDQ of {len(originals)} images, SHA-256 of one), labels {', '.join(LABELS)}"
    )
    # A warm container checks the table for new hashes at most every index_max_age seconds:
    # that is the bound on how long a new hash takes to be matchable everywhere.
    bound = cordon.settings.index_max_age_seconds
    with console.status(f"waiting {bound:.0f} s: new hashes are matchable everywhere within it"):
        time.sleep(bound)
    placed = upload_all(cordon, demo_run, uploads)
    console.print(
        f"[bold]3.[/] {len(placed)} uploads: exact and altered copies of known-bad "
        "images, and clean images"
    )
    cases = wait_for_cases(cordon, placed, timeout, console)

    table = Table(title="What Cordon did", show_lines=False)
    threshold = match_distances(Policy(), cordon.settings.match_distances)[signals.PDQ.name]
    header = distance_header(threshold)
    for column in ("tenant", "key", "edit", "verdict", header, "reason", "now"):
        # The header whole on one line: it is the unit and the threshold of the figures.
        table.add_column(
            column, overflow="fold", min_width=len(column) if column == header else None
        )
    correct = 0
    for upload in placed:
        case = cases.get(upload.ref.case_id(upload.tenant_id))
        verdict = (case or {}).get("verdict") or {}
        action = verdict.get("action", "—" if case is None else case["status"])
        matches = verdict.get("matches", [])
        distance = str(min(m["distance"] for m in matches)) if matches else ""
        correct += action == expected_action(upload.role, upload.sample)
        colour = {"TAKEDOWN": "red", "REVIEW": "yellow", "ALLOW": "green"}.get(action, "white")
        table.add_row(
            upload.tenant_id,
            upload.ref.key,
            upload.sample.edit,
            f"[{colour}]{action}[/]",
            distance,
            summary(verdict, case),
            location(cordon, upload, case),
        )
    console.print(table)
    console.print(
        "distance: bits of PDQ's 256 between the upload's nearest hash and the shared one. "
        "locked until: S3 Object Lock in COMPLIANCE mode; nobody, the account's root user "
        "included, can delete or overwrite the evidence copy before that date.",
        highlight=False,
    )
    bad = sum(u.sample.known_bad for u in placed)
    by_action: dict[str, int] = {}
    for case in cases.values():
        action = (case.get("verdict") or {}).get("action", case["status"])
        by_action[action] = by_action.get(action, 0) + 1
    held = by_action.get("TAKEDOWN", 0) + by_action.get("REVIEW", 0)
    console.print(
        f"[bold]Totals:[/] {len(placed)} uploads, {len(cases)} processed: {held} quarantined "
        f"({by_action.get('TAKEDOWN', 0)} taken down, {by_action.get('REVIEW', 0)} held for "
        f"review), {by_action.get('ALLOW', 0)} allowed; {correct}/{len(placed)} as expected "
        f"({bad} copies of known-bad images, {len(placed) - bad} clean) in "
        f"{time.monotonic() - started:.1f} s"
    )
    reviewed = review_two(cordon, console, demo_run, placed, timeout)
    shared = retro_scan_shown(cordon, console, demo_run, early, updates_queue, timeout)
    again = reupload_shown(cordon, console, placed, timeout)
    console.print(what_next(demo_run, early, attached))
    return correct == len(placed) and reviewed and shared and again


def what_next(run: Run, early: Upload, attached: bool) -> str:
    """Commands to try next, as they can be typed (the stack must outlive the demo)."""
    alpha, beta = run.tenant("alpha"), run.tenant("beta")
    commands = [
        f"cordon --local trace s3://{early.ref.bucket}/{early.ref.key}"
        "      # the retro-scanned upload's case and audit",
        f"cordon --local reviews list --key $(cordon --local tenants key {beta} --reviewer "
        "you)   # beta's queue",
        f"cordon --local hashes export --tenant {alpha}      # what alpha may match",
        "cordon --local dlq list      # dead letters (none expected)",
        f"cordon --local demo      # again, as {Run(run.number + 1).tenant('alpha')} and "
        f"{Run(run.number + 1).tenant('beta')}",
    ]
    intro = (
        "[bold]Try next[/] (in another shell, while the stack runs):"
        if attached
        else "[bold]Try next:[/] this demo's stack is gone; start one that stays with "
        "`cordon local` (in another shell), then `cordon --local demo`, and:"
    )
    return "\n".join([intro, *(f"  {escape(command)}" for command in commands)])


def reupload_shown(cordon: Cordon, console: Console, placed: list[Upload], timeout: float) -> bool:
    """The uploader puts a taken-down file back at its key (the same bytes: same ETag, in
    an unversioned bucket the same case): it is taken down again."""
    upload = next(
        u for u in placed if u.role == "alpha" and expected_action("alpha", u.sample) == "TAKEDOWN"
    )
    ref = upload.ref
    cordon.s3.put_object(Bucket=ref.bucket, Key=ref.key, Body=upload.sample.data)
    case_id = ref.case_id(upload.tenant_id)

    def removed_again() -> bool:
        return any(row["event"] == "reupload_removed" for row in cordon.cases.audit_trail(case_id))

    deadline = time.monotonic() + timeout
    while not removed_again() and time.monotonic() < deadline:
        time.sleep(0.3)
    listed = cordon.s3.list_objects_v2(Bucket=ref.bucket, Prefix=ref.key).get("Contents", [])
    ok = removed_again() and all(obj["Key"] != ref.key for obj in listed)
    outcome = "[green]taken down again[/]" if ok else "[red]still public[/]"
    console.print(
        f"[bold]6.[/] re-upload: the same bytes put back at {upload.tenant_id}'s "
        f"{escape(ref.key)} were "
        f"{outcome} under case {case_id}"
    )
    return ok


EARLY_SAMPLE = "bad-0-resized.jpg"
EARLY_KEY = "archive/poster-from-last-week.jpg"


def early_upload(
    cordon: Cordon, run: Run, uploads: list[samples.Sample], timeout: float, console: Console
) -> Upload:
    """alpha holds, from before any hash was known, the very bytes beta will later confirm."""
    sample = next(u for u in uploads if u.name == EARLY_SAMPLE)
    key, bucket, alpha = EARLY_KEY, run.bucket("alpha"), run.tenant("alpha")
    response = cordon.s3.put_object(Bucket=bucket, Key=key, Body=sample.data)
    upload = Upload(
        alpha, sample, ObjectRef(bucket, key, response.get("VersionId"), response["ETag"])
    )
    case = wait_for_cases(cordon, [upload], timeout, console).get(upload.ref.case_id(alpha))
    action = (case or {}).get("verdict", {}).get("action", "?")
    console.print(f"    {alpha} already holds {key}: nothing known matches it yet -> {action}")
    return upload


def retro_scan_shown(
    cordon: Cordon, console: Console, run: Run, early: Upload, queue_url: str, timeout: float
) -> bool:
    """beta's confirmation reaches alpha: its earlier copy is quarantined, and its
    subscription queue has the update."""
    alpha, beta = run.tenant("alpha"), run.tenant("beta")
    case_id = early.ref.case_id(alpha)
    deadline = time.monotonic() + timeout
    case = case_view(cordon, case_id) or {}
    while case.get("status") != "quarantined" and time.monotonic() < deadline:
        time.sleep(0.3)
        case = case_view(cordon, case_id) or {}
    # The stream hands the confirmation's hashes over in several batches: read until the
    # queue has stayed empty for two polls of a second.
    messages: list[dict[str, Any]] = []
    quiet, reading_until = 0, max(deadline, time.monotonic() + 5)
    while quiet < 2 and time.monotonic() < reading_until:
        batch = cordon.sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        messages.extend(batch)
        quiet = 0 if batch else quiet + 1
    from_beta = [
        m
        for m in (json.loads(json.loads(m["Body"])["Message"]) for m in messages)
        if m["source"] == beta
    ]
    stored = sum(1 for m in from_beta if m.get("variant", "original") != "original")
    ok = case.get("status") == "quarantined" and bool(from_beta)
    colour = "green" if ok else "red"
    console.print(
        f"[bold]5.[/] retro-scan: {alpha}'s {early.ref.key} is now [{colour}]"
        f"{case.get('status', '?')}[/] ({beta}'s confirmed hash, shared with every tenant); "
        f"{alpha}'s subscription queue received {len(from_beta)} update(s) from {beta} "
        f"({len(from_beta) - stored} of the image, {stored} of its stored variants)"
    )
    return ok


def review_two(
    cordon: Cordon, console: Console, run: Run, placed: list[Upload], timeout: float
) -> bool:
    """A reviewer of beta confirms one held upload (the very bytes alpha also holds) and
    rejects another."""
    beta = run.tenant("beta")
    reviewer = Reviewer(beta, "demo-reviewer")
    by_case = {u.ref.case_id(u.tenant_id): u for u in placed}
    held = sum(1 for u in placed if expected_action(u.role, u.sample) == "REVIEW")
    deadline = time.monotonic() + timeout

    def waiting_here() -> list[str]:
        # Only this run's uploads: anything else the tenant holds is left to its reviewers.
        queue = cordon.reviews.queue(reviewer)
        return [row["case_id"] for row in queue if row["case_id"] in by_case]

    waiting = waiting_here()
    while len(waiting) < held and time.monotonic() < deadline:
        time.sleep(0.3)
        waiting = waiting_here()
    confirm = next((c for c in waiting if by_case[c].sample.name == EARLY_SAMPLE), None)
    others = [c for c in waiting if c != confirm]
    if confirm is None or not others:
        console.print("[red]the reviews to decide are not waiting[/]")
        return False
    plan = [
        (confirm, "confirm", "propaganda poster, re-uploaded"),
        (others[0], "reject", "demo: judged not to be terrorist content"),
    ]
    table = Table(title=f"Human review (tenant {beta})")
    for column in ("case", "key", "decision", "outcome", "seconds", "check"):
        table.add_column(column, overflow="fold")
    all_good = True
    for case_id, action, reason in plan:
        decided = time.monotonic()
        cordon.reviews.decide(reviewer, case_id, action, reason, ["demo-entity"])
        target = "confirmed" if action == "confirm" else "reinstated"
        case = case_view(cordon, case_id) or {}
        while case.get("status") != target and time.monotonic() < deadline:
            time.sleep(0.2)
            case = case_view(cordon, case_id) or {}
        seconds = time.monotonic() - decided
        upload = by_case[case_id]
        sha256 = next(s["value"] for s in case.get("signals", []) if s["type"] == "sha256")
        if action == "confirm":
            shared = cordon.hashes.get_many([("sha256", sha256)]).get(("sha256", sha256))
            ok = shared is not None and shared.source == beta
            check = f"its hashes are shared (source {beta})" if ok else "hash NOT shared"
        else:
            try:
                body = cordon.s3.get_object(Bucket=upload.ref.bucket, Key=upload.ref.key)
                ok = body["Body"].read() == upload.sample.data
            except Exception:
                ok = False
            check = "back in the bucket, bit-identical" if ok else "NOT restored"
        all_good &= ok and case.get("status") == target
        table.add_row(
            case_id,
            upload.ref.key,
            f"{action}: {reason}",
            case.get("status", "?"),
            f"{seconds:.1f}",
            check,
        )
    console.print(f"[bold]4.[/] a reviewer of {beta} decides two held uploads:")
    console.print(table)
    return all_good
