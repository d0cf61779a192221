"""The pipeline's at-most-once rules on in-memory fakes of its stores: no AWS, no moto.

Each test is one story of an uploader or a delivery, told through `Pipeline.process` as the
ingest handler calls it; `tests/functional` tells the same stories against moto."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.lifecycle import Ruling
from chalicelib.models import Action, HashRecord, Outcome, Policy, Tenant
from chalicelib.pipeline import Pipeline
from chalicelib.settings import Settings
from cordon_cli import samples
from tests.unit.fakes import FakeCases, FakeHashes, FakeObjects, FakeTenants

BAD = samples.jpeg(samples.known_bad(1)[0])
CLEAN = samples.jpeg(samples.clean(1)[0])
BUCKET = "uploads"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def objects() -> FakeObjects:
    return FakeObjects()


@pytest.fixture
def hashes() -> FakeHashes:
    shared = FakeHashes()
    shared.share(HashRecord("sha256", sha256(BAD), ("propaganda",), source="import"))
    return shared


@pytest.fixture
def cases() -> FakeCases:
    return FakeCases()


def pipeline(objects: FakeObjects, hashes: FakeHashes, cases: FakeCases, **policy) -> Pipeline:
    tenant = Tenant("alpha", (BUCKET,), Policy(**policy))
    return Pipeline(Settings(), objects, hashes, cases, FakeTenants(tenant))


def test_the_same_bytes_put_back_at_the_same_key_are_removed_every_time(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases)
    results = []
    for _ in range(3):
        ref = objects.put(BUCKET, "avatar.jpg", BAD)
        results.append(cordon.process(ref))
        assert (BUCKET, "avatar.jpg") not in objects.objects
    assert [r.outcome for r in results] == [Outcome.QUARANTINED] * 3
    assert "uploaded again" in results[1].detail and results[1].case_id == results[0].case_id
    assert cases.events(results[0].case_id).count("reupload_removed") == 2
    assert objects.evidence_writes() == 1  # the evidence holds these bytes once


def test_a_delivery_of_a_removed_upload_does_nothing_again(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases)
    ref = objects.put(BUCKET, "a.jpg", BAD)
    first = cordon.process(ref)
    trail = list(cases.events(first.case_id))
    again = cordon.process(ref)  # past idempotency: its record expired, or a replay
    assert again.outcome is Outcome.ALREADY_HANDLED and again.detail == "case already quarantined"
    assert cases.events(first.case_id) == trail and objects.evidence_writes() == 1


def test_a_lost_answer_after_the_evidence_is_finished_by_the_retry(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases)
    ref = objects.put(BUCKET, "a.jpg", BAD)
    objects.deletes_to_fail = 1
    with pytest.raises(ConnectionError):
        cordon.process(ref)
    assert (BUCKET, "a.jpg") in objects.objects  # nothing lost: the original stays
    retried = cordon.process(ref)
    assert retried.outcome is Outcome.QUARANTINED
    assert (BUCKET, "a.jpg") not in objects.objects and objects.evidence_writes() == 1
    assert cases.get(retried.case_id).status == "quarantined"


def test_an_allowed_file_that_matches_now_is_quarantined_in_its_one_case(objects, cases):
    empty = FakeHashes()
    cordon = pipeline(objects, empty, cases)
    ref = objects.put(BUCKET, "a.jpg", BAD)
    first = cordon.process(ref)
    assert first.outcome is Outcome.ALLOWED
    empty.share(HashRecord("sha256", sha256(BAD), ("propaganda",)))
    objects.put(BUCKET, "a.jpg", BAD)  # uploaded again, once its hash is known
    again = cordon.process(ref)
    assert again.outcome is Outcome.QUARANTINED and again.case_id == first.case_id
    assert cases.events(first.case_id)[:2] == ["re-evaluated", "verdict"]


def test_an_allowed_file_delivered_again_writes_nothing(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases)
    ref = objects.put(BUCKET, "ok.jpg", CLEAN)
    first = cordon.process(ref)
    item = dict(cases.items[first.case_id])
    again = cordon.process(ref)
    assert again.outcome is Outcome.ALREADY_HANDLED and again.detail == "case already allowed"
    assert cases.items[first.case_id] == item and cases.events(first.case_id) == []


def test_a_gone_object_that_comes_back_is_judged(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases)
    ref = objects.put(BUCKET, "g.jpg", BAD)
    del objects.objects[(BUCKET, "g.jpg")]
    assert cordon.process(ref).outcome is Outcome.GONE
    objects.put(BUCKET, "g.jpg", BAD)
    back = cordon.process(ref)
    assert back.outcome is Outcome.QUARANTINED and cases.get(back.case_id).status == "quarantined"


def test_a_copy_of_bytes_under_review_is_held_with_that_review(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases, exact_action=Action.REVIEW)
    first = cordon.process(objects.put(BUCKET, "a.jpg", BAD))
    assert cases.get(first.case_id).status == "pending_review"
    copy = cordon.process(objects.put(BUCKET, "b.jpg", BAD))
    held = cases.get(copy.case_id)
    assert held.status == "attached" and held.attached_to == first.case_id
    assert held.verdict.held_with == first.case_id and first.case_id in held.verdict.reasons[0]
    assert cases.get(first.case_id).attached == (copy.case_id,)
    assert "copy_held" in cases.events(first.case_id)


def test_bytes_a_reviewer_cleared_are_allowed_anywhere(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases)
    cases.set_precedent("alpha", sha256(BAD), "case-cleared", Ruling.ALLOWED)
    result = cordon.process(objects.put(BUCKET, "c.jpg", BAD))
    assert result.outcome is Outcome.ALLOWED and result.verdict.action is Action.ALLOW
    assert "case-cleared" in result.verdict.reasons[0]


def test_forced_on_a_held_object_judges_the_evidence_and_moves_nothing(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases)
    ref = objects.put(BUCKET, "h.jpg", BAD)
    first = cordon.process(ref)
    forced = cordon.process(ref, force=True)
    assert forced.outcome is Outcome.ALREADY_HANDLED and "stays held" in forced.detail
    assert cases.events(first.case_id)[-1] == "re-evaluated" and objects.evidence_writes() == 1


# An uploader who crafts two files of one MD5 (chosen-prefix collisions are practical) gets one
# ETag for both: the second, put at the key of the first's case, must not hide behind it.
OTHER_BAD = samples.jpeg(samples.known_bad(2)[1])


def test_other_bytes_under_a_removed_cases_etag_are_removed_in_a_case_of_their_own(
    objects, hashes, cases
):
    hashes.share(HashRecord("sha256", sha256(OTHER_BAD), ("propaganda",), source="import"))
    cordon = pipeline(objects, hashes, cases)
    first = cordon.process(objects.put(BUCKET, "a.jpg", BAD))
    colliding = objects.put(BUCKET, "a.jpg", OTHER_BAD, etag=first.ref.etag)

    second = cordon.process(colliding)

    assert second.outcome is Outcome.QUARANTINED
    assert second.case_id != first.case_id
    assert (BUCKET, "a.jpg") not in objects.objects
    assert cases.get(second.case_id).sha256 == sha256(OTHER_BAD)
    # a redelivery finds that case and does nothing again
    assert cordon.process(colliding).outcome is Outcome.ALREADY_HANDLED


def test_clean_bytes_under_a_removed_cases_etag_stay_the_platforms(objects, hashes, cases):
    cordon = pipeline(objects, hashes, cases)
    first = cordon.process(objects.put(BUCKET, "a.jpg", BAD))
    colliding = objects.put(BUCKET, "a.jpg", CLEAN, etag=first.ref.etag)

    second = cordon.process(colliding)

    assert second.outcome is Outcome.ALLOWED and second.case_id != first.case_id
    assert objects.objects[(BUCKET, "a.jpg")] == CLEAN
    assert cases.get(first.case_id).status == "quarantined"
