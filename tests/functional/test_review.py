"""Human review: real Step Functions executions in moto, driven through the reviewers' API."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from chalice.test import Client

import app as chalice_app
from chalicelib import signals
from cordon_cli import samples
from tests.conftest import World
from tests.functional.test_ingest import pdq_of

BAD = samples.known_bad(1)[0]
BAD_JPEG = samples.jpeg(BAD)
COPY = samples.jpeg(samples.resized(BAD))  # a PDQ match, not an exact one


@pytest.fixture
def client() -> Any:
    with Client(chalice_app.app) as test_client:
        yield test_client


def call(client: Any, key: str, method: str, path: str, body: dict | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if method == "GET":
        return client.http.get(path, headers=headers)
    return client.http.post(path, headers=headers, body=json.dumps(body or {}))


def held_for_review(world: World, key: str = "held.jpg", data: bytes = COPY, **policy: Any):
    """A tenant whose PDQ matches go to review, one such upload, and its case waiting."""
    world.tenant("alpha", "alpha-uploads", pdq_action="REVIEW", **policy)
    world.share("pdq", pdq_of(BAD_JPEG), ("terrorist-propaganda",))
    ref = world.upload("alpha-uploads", key, data)
    case_id = ref.case_id("alpha")
    world.settle(until=lambda: waiting(world, case_id))
    return ref, case_id


def waiting(world: World, case_id: str, status: str = "pending_review") -> bool:
    case = world.cordon.cases.get(case_id)
    return bool(case and case.status == status and case.token)


def status_of(world: World, case_id: str) -> str:
    case = world.cordon.cases.get(case_id)
    return case.status.value if case else "missing"


def execution_status(world: World, case_id: str) -> str:
    arn = world.cordon.cases.get(case_id).review["execution_arn"]
    return world.session.client("stepfunctions").describe_execution(executionArn=arn)["status"]


def test_confirm_shares_the_hashes_with_provenance_and_ends_the_execution(world, client):
    ref, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    queue = call(client, key, "GET", "/reviews").json_body["cases"]
    assert [c["case_id"] for c in queue] == [case_id]
    assert queue[0]["seconds_left"] > 0 and queue[0]["labels"] == ["terrorist-propaganda"]
    view = call(client, key, "GET", f"/cases/{case_id}").json_body
    assert view["image_url"].startswith("http") and "token" not in view["review"]
    assert view["verdict"]["matches"][0]["distance"] > 0
    decided_at = time.monotonic()
    response = call(
        client,
        key,
        "POST",
        f"/cases/{case_id}/decision",
        {"action": "confirm", "reason": "propaganda poster", "labels": ["isis"]},
    )
    assert response.status_code == 202
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    shared_after = time.monotonic() - decided_at
    sha256 = hashlib.sha256(COPY).hexdigest()
    record = world.cordon.hashes.get_many([("sha256", sha256)])[("sha256", sha256)]
    assert (record.source, record.case_id, record.confirmed_by) == ("alpha", case_id, "rev-ana")
    assert set(record.labels) == {"isis", "terrorist-propaganda"}
    assert pdq_of(COPY) in {v for v, _ in world.cordon.hashes.index("pdq").query(pdq_of(COPY), 0)}
    world.settle(until=lambda: execution_status(world, case_id) == "SUCCEEDED")
    notice = call(client, key, "GET", f"/cases/{case_id}/statement").json_body
    assert notice["restriction"]["type"] == "removal"
    assert notice["automated_decision"] == "partially" and notice["automated_detection"]
    assert "propaganda poster" in " ".join(notice["facts_and_circumstances"])
    assert notice["redress"] and "2021/784" in notice["ground"]["legal_ground"]
    assert not world.exists("alpha-uploads", ref.key)
    print(f"decision -> hash shared: {shared_after:.2f} s")


def test_reject_restores_identical_bytes_and_allow_lists_them(world, client):
    ref, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    decided_at = time.monotonic()
    assert (
        call(
            client,
            key,
            "POST",
            f"/cases/{case_id}/decision",
            {"action": "reject", "reason": "a film still, not propaganda"},
        ).status_code
        == 202
    )
    world.settle(until=lambda: status_of(world, case_id) == "reinstated")
    restored_after = time.monotonic() - decided_at
    back = world.s3.get_object(Bucket="alpha-uploads", Key=ref.key)["Body"].read()
    assert back == COPY
    notice = world.cordon.cases.get(case_id).notice
    assert notice["restriction"]["type"] == "none"
    # The restored object's own event, and the same bytes under another key, now pass.
    again = world.upload("alpha-uploads", "same-bytes.jpg", COPY)
    world.settle()
    case = world.case("alpha", again)
    assert case is not None and case["verdict"]["action"] == "ALLOW"
    assert "allow-listed" in case["verdict"]["reasons"][0]
    assert world.exists("alpha-uploads", ref.key)
    print(f"decision -> object restored: {restored_after:.2f} s")


def test_escalation_needs_a_second_reviewer(world, client):
    _, case_id = held_for_review(world)
    first, second = world.reviewer("alpha", "rev-ana"), world.reviewer("alpha", "rev-ben")
    assert (
        call(
            client,
            first,
            "POST",
            f"/cases/{case_id}/decision",
            {"action": "escalate", "reason": "unsure"},
        ).status_code
        == 202
    )
    world.settle(until=lambda: waiting(world, case_id, "escalated"))
    refused = call(client, first, "POST", f"/cases/{case_id}/decision", {"action": "confirm"})
    assert refused.status_code == 403 and "second reviewer" in refused.json_body["error"]
    assert (
        call(
            client, second, "POST", f"/cases/{case_id}/decision", {"action": "confirm"}
        ).status_code
        == 202
    )
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    decisions = world.cordon.cases.get(case_id).decisions
    assert [(d["action"], d["reviewer"]) for d in decisions] == [
        ("escalate", "rev-ana"),
        ("confirm", "rev-ben"),
    ]


def test_timeout_escalates_and_tells_the_tenant(world):
    from cordon_cli.operations import subscribe_queue

    notices = subscribe_queue(
        world.cordon, "alpha-notices", world.cordon.settings.tenant_notices_topic_arn
    )
    _, case_id = held_for_review(world, review_timeout_seconds=1)
    world.settle(until=lambda: waiting(world, case_id, "escalated"), timeout=30)
    events = [row["event"] for row in world.cordon.cases.audit_trail(case_id)]
    assert "review_timed_out" in events and "deadline_breached" in events
    told = world.cordon.sqs.receive_message(QueueUrl=notices, MaxNumberOfMessages=10)
    messages = [json.loads(json.loads(m["Body"])["Message"]) for m in told["Messages"]]
    assert any(
        m["event"] == "review_overdue_escalated" and m["case_id"] == case_id for m in messages
    )


def test_a_second_decision_is_refused(world, client):
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    assert (
        call(client, key, "POST", f"/cases/{case_id}/decision", {"action": "confirm"}).status_code
        == 202
    )
    again = call(client, key, "POST", f"/cases/{case_id}/decision", {"action": "reject"})
    assert again.status_code == 409 and "already decided" in again.json_body["error"]
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")


def test_other_tenants_reviewers_can_neither_see_nor_decide(world, client):
    _, case_id = held_for_review(world)
    world.tenant("beta", "beta-uploads")
    outsider = world.reviewer("beta", "rev-zoe")
    assert call(client, outsider, "GET", "/reviews").json_body["cases"] == []
    # 404, as for an unknown id: a 403 would tell them the case exists.
    assert call(client, outsider, "GET", f"/cases/{case_id}").status_code == 404
    assert (
        call(
            client, outsider, "POST", f"/cases/{case_id}/decision", {"action": "reject"}
        ).status_code
        == 404
    )
    assert call(client, outsider, "GET", f"/cases/{case_id}/statement").status_code == 404
    assert call(client, "not-a-key", "GET", "/reviews").status_code == 403
    assert client.http.get("/reviews").status_code == 401
    assert status_of(world, case_id) == "pending_review"


def test_appeal_by_another_reviewer_overturns_the_takedown(world, client):
    ref, case_id = held_for_review(world)
    ana, ben = world.reviewer("alpha", "rev-ana"), world.reviewer("alpha", "rev-ben")
    call(client, ana, "POST", f"/cases/{case_id}/decision", {"action": "confirm"})
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    appealed = call(
        client,
        ana,
        "POST",
        f"/cases/{case_id}/appeal",
        {"reason": "the uploader says it is news reporting"},
    )
    assert appealed.status_code == 202 and appealed.json_body["excluded_reviewers"] == ["rev-ana"]
    world.settle(until=lambda: waiting(world, case_id, "appeal_pending"))
    queue = call(client, ben, "GET", "/reviews").json_body["cases"]
    assert queue[0]["kind"] == "appeal" and 13 * 86400 < queue[0]["seconds_left"] <= 14 * 86400
    assert (
        call(client, ana, "POST", f"/cases/{case_id}/decision", {"action": "reject"}).status_code
        == 403
    )
    assert (
        call(
            client,
            ben,
            "POST",
            f"/cases/{case_id}/decision",
            {"action": "reject", "reason": "news reporting"},
        ).status_code
        == 202
    )
    world.settle(until=lambda: status_of(world, case_id) == "reinstated")
    assert world.s3.get_object(Bucket="alpha-uploads", Key=ref.key)["Body"].read() == COPY


def test_automated_takedown_gets_its_statement_and_can_be_appealed(world, client):
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    ref = world.upload("alpha-uploads", "auto.jpg", COPY)
    world.settle()
    case_id = ref.case_id("alpha")
    key = world.reviewer("alpha", "rev-ana")
    notice = call(client, key, "GET", f"/cases/{case_id}/statement").json_body
    assert notice["automated_decision"] == "fully" and notice["human_review"] == []
    assert call(client, key, "POST", f"/cases/{case_id}/appeal", {"reason": "x"}).status_code == 202
    world.settle(until=lambda: waiting(world, case_id, "appeal_pending"))


def test_reviews_from_the_shell(world, capsys):
    from cordon_cli.main import main

    _, case_id = held_for_review(world)
    assert main(["tenants", "key", "alpha", "--reviewer", "rev-cli", "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["key"]
    assert main(["reviews", "list", "--key", key, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["case_id"] == case_id and rows[-1] == {"summary": {"pending_review": 1}}
    assert main(["reviews", "show", case_id, "--key", key, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"]["action"] == "REVIEW"
    assert main(["reviews", "decide", case_id, "reject", "--key", key, "--reason", "no"]) == 0
    world.settle(until=lambda: status_of(world, case_id) == "reinstated")
    assert main(["reviews", "decide", case_id, "confirm", "--key", key]) == 1


def test_trace_shows_the_whole_history_through_review(world, client, capsys):
    from cordon_cli.main import main

    ref, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    call(client, key, "POST", f"/cases/{case_id}/decision", {"action": "confirm"})
    world.settle(until=lambda: execution_status(world, case_id) == "SUCCEEDED")
    assert main(["trace", f"s3://alpha-uploads/{ref.key}", "--json"]) == 0
    (case,) = json.loads(capsys.readouterr().out)["cases"]
    assert case["status"] == "confirmed"
    assert case["review_execution"]["status"] == "SUCCEEDED"
    assert "token" not in case["review"]
    assert [d["reviewer"] for d in case["decisions"]] == ["rev-ana"]
    events = [row["event"] for row in case["audit"]]
    for step in (
        "verdict",
        "evidence_stored",
        "original_removed",
        "review_requested",
        "review_started",
        "decision",
        "hashes_shared",
        "notice_recorded",
    ):
        assert step in events, step
    assert [h["status"] for h in case["history"]][:2] == ["quarantining", "pending_review"]
    assert case["notice"]["restriction"]["type"] == "removal"


def _told(world: World, queue: str) -> list[dict[str, Any]]:
    received = world.cordon.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(json.loads(m["Body"])["Message"]) for m in received.get("Messages", [])]


def test_the_usual_review_enters_two_billed_states_and_tells_everyone(world, client):
    from cordon_cli.operations import subscribe_queue

    # GIVEN reviewers and a tenant listening, and a case waiting for review
    settings = world.cordon.settings
    notices = subscribe_queue(world.cordon, "alpha-notices", settings.tenant_notices_topic_arn)
    reviewers = subscribe_queue(world.cordon, "alpha-reviewers", settings.review_topic_arn)
    _, case_id = held_for_review(world)
    # THEN reviewers were told once the case could be decided
    assert {"event": "review_needed", "case_id": case_id, "kind": "review"} in [
        {k: m.get(k) for k in ("event", "case_id", "kind")} for m in _told(world, reviewers)
    ]
    key = world.reviewer("alpha", "rev-ana")
    # WHEN a reviewer confirms and the workflow ends
    call(client, key, "POST", f"/cases/{case_id}/decision", {"action": "confirm"})
    world.settle(until=lambda: execution_status(world, case_id) == "SUCCEEDED")
    # THEN Step Functions (billed per state entered) entered await and apply only
    arn = world.cordon.cases.get(case_id).review["execution_arn"]
    history = world.session.client("stepfunctions").get_execution_history(executionArn=arn)
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if e["type"].endswith("StateEntered")
    ]
    assert entered == ["AwaitDecision", "ApplyDecision"]
    # AND the start is on the audit trail once, and the tenant was told of the decision
    events = [row["event"] for row in world.cordon.cases.audit_trail(case_id)]
    assert events.count("review_started") == 1
    assert {"event": "review_decided", "case_id": case_id, "action": "confirm"} in [
        {k: m.get(k) for k in ("event", "case_id", "action")} for m in _told(world, notices)
    ]


def test_a_confirmation_stores_crops_that_catch_cropped_copies_for_review(world, client):
    # GIVEN alpha's reviewer confirms a held upload
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    call(client, key, "POST", f"/cases/{case_id}/decision", {"action": "confirm"})
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    stored = [
        record
        for record in world.cordon.hashes.get_many(
            [("pdq", s.value) for s in signals.shared_variant_signals(COPY, 10**8)]
        ).values()
    ]
    # (a variant hashing the same as the image, or as another variant, is stored once)
    kept = {r.variant for r in stored} - {"original"}
    assert "crop-10" in kept and any(v.startswith("masked-") for v in kept)
    assert all(
        (r.source, r.case_id, r.confirmed_by) == ("alpha", case_id, "rev-ana") for r in stored
    )
    # (each names the image's own hash, which it is disputed, held and allow-listed as)
    assert {r.variant_of for r in stored if r.variant != "original"} == {pdq_of(COPY)}
    # WHEN beta uploads a copy with 5 % cut off each side (10 % of each axis)
    world.tenant("beta", "beta-uploads")
    cropped = world.upload(
        "beta-uploads", "cropped.jpg", samples.jpeg(samples.cropped(samples.resized(BAD), 0.05))
    )
    exact = world.upload("beta-uploads", "exact.jpg", COPY)
    # AND a copy with the same 10 % of each axis cut from the left and the top only
    picture = samples.resized(BAD)
    corner = picture.crop((picture.width // 10, picture.height // 10, *picture.size))
    uneven = world.upload("beta-uploads", "corner.jpg", samples.jpeg(corner))
    world.settle()
    # THEN the crop is held for review through a stored crop, and the exact copy taken down
    verdict = world.case("beta", cropped)["verdict"]
    assert verdict["action"] == "REVIEW"
    assert verdict["matches"][0]["stored_variant"].startswith("crop-")
    assert "stored with the shared image" in verdict["reasons"][0]
    # AND the uneven crop is held too, through a window around a spot of the picture
    verdict = world.case("beta", uneven)["verdict"]
    assert verdict["action"] == "REVIEW"
    assert verdict["matches"][0]["stored_variant"].startswith("anchor-")
    assert verdict["matches"][0]["variant_of"] == pdq_of(COPY)
    assert world.case("beta", exact)["verdict"]["action"] == "TAKEDOWN"
    # WHEN an operator retires the image's PDQ hash, its stored variants go with it
    from cordon_cli.operations import retire_hash

    retired = retire_hash(world.cordon, "pdq", pdq_of(COPY))
    assert set(retired.stored_variants) == {r.value for r in stored if r.variant != "original"}
    after = world.cordon.hashes.get_many([("pdq", v) for v in retired.stored_variants], True)
    assert after and {r.status for r in after.values()} == {"retired"}


def test_a_decision_the_workflow_refuses_is_given_back_and_can_be_made_again(
    world, client, monkeypatch
):
    # GIVEN a case waiting for review, and SendTaskSuccess failing once (after the claim)
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    workflow = world.cordon.reviews.workflow
    real, calls = workflow.succeed, []

    def failing_once(token: str, output: Any) -> Any:
        calls.append(token)
        if len(calls) == 1:
            raise ConnectionError("injected: SendTaskSuccess failed")
        return real(token, output)

    monkeypatch.setattr(workflow, "succeed", failing_once)
    body = {"action": "confirm", "reason": "propaganda poster"}
    # WHEN the reviewer decides: the answer fails
    assert call(client, key, "POST", f"/cases/{case_id}/decision", body).status_code == 500
    # THEN the case is not stuck deciding: token, status and decisions are as before
    case = world.cordon.cases.get(case_id)
    assert case.status == "pending_review" and case.token and not case.decisions
    assert [c["case_id"] for c in call(client, key, "GET", "/reviews").json_body["cases"]] == [
        case_id
    ]
    # ... and deciding again works, once
    assert call(client, key, "POST", f"/cases/{case_id}/decision", body).status_code == 202
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    events = [row["event"] for row in world.cordon.cases.audit_trail(case_id)]
    assert events.count("decision_undone") == 1 and events.count("decision") == 1
    assert len(world.cordon.cases.get(case_id).decisions) == 1
