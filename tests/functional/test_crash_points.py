"""A known-bad upload ends the same however its processing is interrupted (issue 14, item 3).

The function's AWS calls are watched through botocore's event hooks on the session its clients
come from (no adapter is touched): every call made while one known-bad object goes through the
ingest handler is recorded, then each is made to fail, before it is sent or after it took
effect (the "lost answer"), and the same SQS record is delivered again until it succeeds, as
SQS does. Whatever the crash point, the end state is the uninterrupted run's: the original
removed, one evidence version, one `verdict`, `evidence_stored` and `original_removed` row,
the case quarantined with its statement of reasons, nothing dead-lettered.

A process death leaves AWS as an exception does: what was sent is applied, nothing after the
crash point is. Two modes tell them apart where it matters: `raise` lets the rest of that
attempt run (error handlers write their audit rows, powertools releases its in-progress
record), `die` fails every later call of the attempt too, so nothing more reaches AWS (the
in-progress record stays until the function's timeout has passed, which SQS's visibility
timeout always exceeds: the redelivery's context says no time is left).

All in moto, in process: the evidence bucket (Object Lock, versioned), the cases table and
powertools' idempotency table are moto's. moto checks `If-None-Match` and DynamoDB conditions
but not atomically under threads, so the concurrent test takes turns call by call (each call
whole, as AWS applies it), which is also the interleaving that tests a check-then-write most.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ConnectionClosedError
from moto import mock_aws

from chalicelib.errors import ChecksumMismatchError
from chalicelib.models import HashRecord, ObjectRef, Policy
from chalicelib.settings import Settings
from chalicelib.wiring import Cordon
from cordon_cli import samples
from cordon_cli.bootstrap import Stack, bootstrap, load_template
from cordon_cli.operations import add_tenant
from cordon_cli.runner import LocalContext, QueueRunner, lambda_sqs_event
from tests.conftest import FAKE_ENV

BAD = samples.jpeg(samples.known_bad(1)[0])
TENANT = "alpha"
BUCKET = "alpha-uploads"
ONCE = ("verdict", "evidence_stored", "original_removed")


class InjectedCrash(Exception):
    """The fault a crash point raises."""


class LostAnswer(ConnectionClosedError):
    """A connection closed after S3 or DynamoDB applied the request: botocore sends it again."""


@dataclass
class Faults:
    """Hooks on one boto3 session: every call its clients make, and the faults to inject.

    `crash` = (call index, "before" | "after", "raise" | "die"); `lose` drops that share of
    answers (at random, from `seed`) once the request has been applied."""

    calls: list[str] = field(default_factory=list)
    crash: tuple[int, str, str] | None = None
    dead: bool = False
    lose: float = 0.0
    lose_next: int = 0  # answers to lose, whatever `lose` says
    seed: int = 0
    lost: int = 0
    _rng: random.Random = field(default_factory=random.Random)

    def attach(self, session: Any) -> None:
        events = session.events
        events.register("before-parameter-build", self._record)
        events.register("before-call", self._before)
        events.register("after-call", self._after)
        # After moto's own `before-send` (which applies the request): the answer is lost.
        events.register_last("before-send", self._send)
        for service in ("s3", "dynamodb", "sqs"):
            # Ahead of botocore's retry handler: retry a lost answer at once, not after a sleep.
            events.register_first(f"needs-retry.{service}", self._retry_now)

    def arm(self, crash: tuple[int, str, str] | None = None, lose: float = 0.0) -> None:
        self.calls.clear()
        self.crash, self.dead, self.lose, self.lost, self.lose_next = crash, False, lose, 0, 0
        self._rng = random.Random(self.seed)

    def _record(self, event_name: str, params: dict[str, Any], **_: Any) -> None:
        where = params.get("TableName") or params.get("Bucket") or ""
        self.calls.append(f"{event_name.split('.', 1)[1]}({where})")

    def _before(self, **_: Any) -> None:
        if self.dead:
            raise InjectedCrash("the process died earlier in this attempt")
        self._maybe_crash("before")

    def _after(self, **_: Any) -> None:
        self._maybe_crash("after")

    def _maybe_crash(self, when: str) -> None:
        if self.crash is None:
            return
        index, at, mode = self.crash
        if len(self.calls) - 1 == index and at == when:
            self.crash = None
            self.dead = mode == "die"
            raise InjectedCrash(f"crash {when} call {index} ({self.calls[-1]})")

    def _send(self, request: Any, **_: Any) -> None:
        if self.lose_next or (self.lose and self._rng.random() < self.lose):
            self.lose_next = max(0, self.lose_next - 1)
            self.lost += 1
            raise LostAnswer(endpoint_url=request.url)

    def _retry_now(self, caught_exception: Exception | None = None, attempts: int = 0, **_: Any):
        if isinstance(caught_exception, LostAnswer):
            return 0 if attempts < 5 else False
        return None


@dataclass
class Sweep:
    """One moto account with Cordon's resources, a tenant and a shared hash of BAD; the
    function's clients come from `session` (hooked by `faults`), the test's from `setup`."""

    session: Any
    setup: Cordon
    stack: Stack
    settings: Settings
    faults: Faults

    def container(self) -> Cordon:
        """A cold Lambda container."""
        return Cordon(self.settings, self.session)

    def upload(self, key: str) -> tuple[ObjectRef, dict[str, Any]]:
        """BAD put at `key`, and the S3 notification it sent to the ingest queue."""
        response = self.setup.s3.put_object(Bucket=BUCKET, Key=key, Body=BAD)
        ref = ObjectRef(BUCKET, key, response.get("VersionId"), response["ETag"].strip('"'))
        url = self.stack.refs["IngestQueue"]
        message = self.setup.sqs.receive_message(QueueUrl=url, AttributeNames=["All"])
        [received] = message["Messages"]
        self.setup.sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])
        assert key in received["Body"]
        return ref, received

    def deliver(self, message: dict[str, Any], receive: int) -> bool:
        """One delivery of the SQS record, the `receive`-th, to a cold container; whether
        the handler reported it done."""
        attributes = {**message.get("Attributes", {}), "ApproximateReceiveCount": str(receive)}
        event = lambda_sqs_event(
            [{**message, "Attributes": attributes}], self.queue_arn, "us-east-1"
        )
        # A redelivery comes after the visibility timeout, longer than the function's.
        context = LocalContext("ingest", timeout_seconds=0)
        response = self.container().ingest.handle_batch(event, context)
        return not response["batchItemFailures"]

    @property
    def queue_arn(self) -> str:
        url = self.stack.refs["IngestQueue"]
        attributes = self.setup.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return attributes["Attributes"]["QueueArn"]

    def outcome(self, ref: ObjectRef) -> dict[str, Any]:
        """What an auditor would check of one upload."""
        case_id = ref.case_id(TENANT)
        case = self.setup.cases.get(case_id)
        trail = [row["event"] for row in self.setup.cases.audit_trail(case_id)]
        versions = self.setup.s3.list_object_versions(
            Bucket=self.settings.evidence_bucket, Prefix=f"{TENANT}/{case_id}/"
        ).get("Versions", [])
        evidence = (case.evidence or {}) if case else {}
        return {
            "online": self._online(ref),
            "status": str(case.status) if case else None,
            "notice": bool(case and case.notice),
            "evidence_versions": len(versions),
            "evidence_recorded": [v["VersionId"] for v in versions] == [evidence.get("version_id")],
            **{event: trail.count(event) for event in ONCE},
        }

    def _online(self, ref: ObjectRef) -> bool:
        try:
            self.setup.s3.head_object(Bucket=ref.bucket, Key=ref.key)
        except self.setup.s3.exceptions.ClientError:
            return False
        return True

    def dead_letters(self) -> int:
        url = self.stack.refs["IngestDeadLetterQueue"]
        attributes = self.setup.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


EXPECTED = {
    "online": False,
    "status": "quarantined",
    "notice": True,
    "evidence_versions": 1,
    "evidence_recorded": True,
    **{event: 1 for event in ONCE},
}


@contextmanager
def moto_sweep() -> Iterator[Sweep]:
    # Every upload here is the same file: the flood guard would hold its hash after 100.
    environment = {**FAKE_ENV, "CORDON_FLOOD_LIMIT": str(10**6)}
    with mock.patch.dict(os.environ, environment), mock_aws():
        os.environ.pop("AWS_ENDPOINT_URL", None)
        setup_session = boto3.session.Session(region_name="us-east-1")
        template = load_template()
        stack = bootstrap(setup_session, template)
        os.environ.update(stack.environment(template))
        settings = Settings.from_env()
        setup = Cordon(settings, setup_session)
        add_tenant(setup, TENANT, [BUCKET], via="sqs", policy=Policy(), create_buckets=True)
        sha256 = hashlib.sha256(BAD).hexdigest()
        setup.hashes.put([HashRecord("sha256", sha256, ("propaganda",), source="test")])
        setup.sqs.purge_queue(QueueUrl=stack.refs["IngestQueue"])  # S3's test event
        session = boto3.session.Session(region_name="us-east-1")
        faults = Faults()
        faults.attach(session)
        yield Sweep(session, setup, stack, settings, faults)


def _recorded_calls() -> list[str]:
    """The AWS calls of one known-bad object through the ingest handler, in order."""
    with moto_sweep() as sweep:
        _, message = sweep.upload("recorded.jpg")
        sweep.faults.arm()
        assert sweep.deliver(message, 1)
        return list(sweep.faults.calls)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "crash" in metafunc.fixturenames:
        calls = _recorded_calls()
        points = [
            (index, when, mode)
            for index in range(len(calls))
            for when in ("before", "after")
            for mode in ("raise", "die")
        ]
        ids = [f"{i:02d}-{calls[i]}-{when}-{mode}" for i, when, mode in points]
        metafunc.parametrize("crash", points, ids=ids)


@pytest.fixture(scope="module")
def sweep() -> Iterator[Sweep]:
    with moto_sweep() as world:
        yield world


def test_every_crash_point_ends_as_an_uninterrupted_run(
    sweep: Sweep, crash: tuple[int, str, str]
) -> None:
    # GIVEN a known-bad upload and its S3 notification
    index, when, mode = crash
    ref, message = sweep.upload(f"crash-{index:02d}-{when}-{mode}.jpg")
    # WHEN its first delivery crashes at that point, and SQS delivers it again until done
    sweep.faults.arm(crash)
    done = sweep.deliver(message, 1)
    assert sweep.faults.crash is None, "the crash point was not reached"
    sweep.faults.arm()
    receive = 1
    while not done and receive < 4:
        receive += 1
        done = sweep.deliver(message, receive)
    # THEN it ends as if nothing had happened
    assert done
    assert sweep.outcome(ref) == EXPECTED
    assert sweep.dead_letters() == 0


def test_lost_answers_end_every_upload_quarantined_once(sweep: Sweep) -> None:
    # GIVEN 30 known-bad uploads, and a tenth of the function's AWS answers lost on the way
    # back (the request applied, the connection closed: botocore sends it again)
    keys = [f"lossy-{n}.jpg" for n in range(30)]
    refs = []
    for key in keys:
        put = sweep.setup.s3.put_object(Bucket=BUCKET, Key=key, Body=BAD)
        refs.append(ObjectRef(BUCKET, key, None, put["ETag"].strip('"')))
    container = sweep.container()

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        # No time left: a redelivery comes after the function's timeout (see `deliver`). In
        # Lambda a resent idempotency put (powertools') finds its own record in progress and
        # fails that delivery; here it has expired, so the put goes through at once.
        return container.ingest.handle_batch(event, LocalContext("ingest", timeout_seconds=0))

    runner = QueueRunner(
        sweep.setup.sqs, sweep.stack.refs["IngestQueue"], handler, "ingest", retry_delay_seconds=0
    )
    sweep.faults.seed = 14
    sweep.faults.arm(lose=0.10)
    # WHEN the queue is drained, failed records delivered again as SQS does
    runner.drain(idle_polls=2, timeout=120)
    lost = sweep.faults.lost
    sweep.faults.arm()
    # THEN every upload is quarantined once, none is online, none dead-lettered
    assert lost > 30
    outcomes = {ref.key: sweep.outcome(ref) for ref in refs}
    assert {key: o for key, o in outcomes.items() if o != EXPECTED} == {}
    assert sweep.dead_letters() == 0


class Lockstep:
    """Two workers take turns, one AWS call each, so that each step of one meets the same
    step of the other (each call whole, as AWS applies it)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.workers: list[int] = []
        self.done: set[int] = set()
        self.turn = 0
        self.ready = threading.Barrier(2)

    def join(self) -> None:
        with self.cond:
            self.workers.append(threading.get_ident())
        self.ready.wait()

    def _current(self) -> int:
        worker = self.workers[self.turn % 2]
        return self.workers[(self.turn + 1) % 2] if worker in self.done else worker

    def before(self, **_: Any) -> None:
        me = threading.get_ident()
        if me in self.workers:
            with self.cond:
                self.cond.wait_for(lambda: self._current() == me, timeout=30)

    def after(self, **_: Any) -> None:
        if threading.get_ident() in self.workers:
            with self.cond:
                self.turn += 1
                self.cond.notify_all()

    def finish(self) -> None:
        with self.cond:
            self.done.add(threading.get_ident())
            self.cond.notify_all()


def test_two_workers_on_one_upload_at_once_write_one_evidence_and_one_trail(sweep: Sweep):
    # GIVEN a known-bad upload delivered to two workers at once (two envelopes of one PUT, or
    # a replay racing its notification: each gets past idempotency with its own delivery id)
    ref, _ = sweep.upload("twice-at-once.jpg")
    sweep.faults.arm()
    lockstep = Lockstep()
    sweep.session.events.register("before-call", lockstep.before)
    sweep.session.events.register("after-call", lockstep.after)
    workers = [sweep.container().pipeline for _ in range(2)]
    results: list[Any] = []

    def work(pipeline: Any) -> None:
        lockstep.join()
        try:
            results.append(pipeline.process(ref).outcome.value)
        except Exception as error:  # a worker may fail: SQS would deliver its record again
            results.append(repr(error))
        finally:
            lockstep.finish()

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sweep.session.events.unregister("before-call", lockstep.before)
        sweep.session.events.unregister("after-call", lockstep.after)
    # WHEN a worker failed, its delivery comes again
    if "quarantined" not in results:
        sweep.container().pipeline.process(ref)
    # THEN one evidence version and one set of audit rows
    assert len(results) == 2
    assert sweep.outcome(ref) == EXPECTED, results


def test_a_resent_audit_put_succeeds_and_every_distinct_event_is_kept(sweep: Sweep):
    # GIVEN the case store of a container whose first answer will be lost
    cases = sweep.container().cases
    sweep.faults.arm()
    sweep.faults.lose_next = 1
    # WHEN it records two retries, then the same verdict step twice (a retried step)
    cases.audit("case-resent", "retry", {"n": 1})
    cases.audit("case-resent", "retry", {"n": 2})
    cases.audit("case-resent", "verdict", {"action": "TAKEDOWN"}, once="q1")
    cases.audit("case-resent", "verdict", {"action": "TAKEDOWN", "again": True}, once="q1")
    # THEN the resent put succeeded, both retries are kept and the verdict is there once
    assert sweep.faults.lost == 1
    trail = sweep.setup.cases.audit_trail("case-resent")
    assert [(row["event"], row["detail"]) for row in trail] == [
        ("retry", {"n": 1}),
        ("retry", {"n": 2}),
        ("verdict", {"action": "TAKEDOWN"}),
    ]


def test_evidence_stored_again_for_a_case_is_the_one_version_there(sweep: Sweep):
    # GIVEN the evidence copy of a case, written once
    store = sweep.container().store
    ref = ObjectRef(BUCKET, "again.jpg", None, "etag")
    key = f"{TENANT}/case-again/again.jpg"
    sha256 = hashlib.sha256(BAD).hexdigest()
    sweep.faults.arm()
    first = store.store_evidence(ref, key, BAD, sha256, {"cordon-case": "case-again"})
    # WHEN a retry (or a second worker) stores it again
    again = store.store_evidence(ref, key, BAD, sha256, {"cordon-case": "case-again"})
    # THEN it is the copy already there: one version, checked, and other bytes are refused
    assert again == first
    versions = sweep.setup.s3.list_object_versions(
        Bucket=sweep.settings.evidence_bucket, Prefix=key
    )["Versions"]
    assert [v["VersionId"] for v in versions] == [first.version_id]
    other = hashlib.sha256(b"other bytes").hexdigest()
    with pytest.raises(ChecksumMismatchError):
        store.store_evidence(ref, key, b"other bytes", other, {})
