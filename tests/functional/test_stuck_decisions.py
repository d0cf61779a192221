"""A decision whose claim was written but whose answer was lost (DynamoDB wrote the claim, the
client saw an error; or the Lambda died before SendTaskSuccess) ends decided or back in the
queue, never stuck `deciding`: real Step Functions executions in moto, the loss injected with a
botocore hook after the UpdateItem succeeded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

import app as chalice_app
from cordon_cli.runner import LocalContext
from tests.conftest import World
from tests.functional.test_review import call, held_for_review, status_of, waiting

CLAIM_CONDITION = "#review.#token = :token"  # the claim's UpdateItem, and no other write


@pytest.fixture
def client() -> Any:
    with Client(chalice_app.app) as test_client:
        yield test_client


def lose_the_claims_answer(world: World, times: int = 1) -> list[str]:
    """The next `times` claims are written, then their answer is lost (the client raises after
    DynamoDB applied the update, as when the connection drops on the way back)."""
    dynamodb = world.cordon.cases.table.meta.client
    lost: list[str] = []

    def before(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["lose"] = params.get("ConditionExpression") == CLAIM_CONDITION

    def after(context: dict[str, Any], **_: Any) -> None:
        if context.get("lose") and len(lost) < times:
            lost.append("claim")
            raise ConnectionError("injected: the answer to the claim was lost")

    dynamodb.meta.events.register("before-parameter-build.dynamodb.UpdateItem", before)
    dynamodb.meta.events.register("after-call.dynamodb.UpdateItem", after)
    return lost


def stuck(world: World, case_id: str) -> bool:
    """Deciding, and no reviewer can decide it (no token)."""
    case = world.cordon.cases.get(case_id)
    return case.status == "deciding" and not case.token


def events_of(world: World, case_id: str) -> list[str]:
    return [row["event"] for row in world.cordon.cases.audit_trail(case_id)]


CONFIRM = {"action": "confirm", "reason": "propaganda poster"}
# What EventBridge Scheduler's rate rule hands the function.
SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-12-04T22:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/cordon-dev-sweep_decisions"],
    "detail": {},
}


def test_the_reviewer_deciding_again_completes_a_claim_whose_answer_was_lost(world, client):
    # GIVEN a case waiting for review, and the answer to its claim lost
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    lost = lose_the_claims_answer(world)
    # WHEN the reviewer decides: the claim is written, the call fails
    assert call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 500
    assert lost and stuck(world, case_id)
    # ... and sends the same decision again
    again = call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM)
    # THEN it is sent to the workflow with the token the claim kept, and applied once
    assert again.status_code == 202, again.json_body
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    assert events_of(world, case_id).count("decision") == 1
    assert len(world.cordon.cases.get(case_id).decisions) == 1


def test_another_decision_on_a_stuck_claim_is_refused(world, client):
    _, case_id = held_for_review(world)
    ana, bo = world.reviewer("alpha", "rev-ana"), world.reviewer("alpha", "rev-bo")
    lose_the_claims_answer(world)
    assert call(client, ana, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 500
    for key, body in ((bo, CONFIRM), (ana, {"action": "reject"})):
        refused = call(client, key, "POST", f"/cases/{case_id}/decision", body)
        assert refused.status_code == 409 and "already decided" in refused.json_body["error"]
    assert stuck(world, case_id)


def test_the_scheduled_sweeper_completes_a_claim_nobody_retried(world, client, monkeypatch):
    # GIVEN a claim whose answer was lost, and a reviewer who does not come back
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    lose_the_claims_answer(world)
    assert call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 500
    # WHEN the scheduled sweeper runs once the claim is old enough (no wait: the age is 0 here)
    monkeypatch.setattr(chalice_app, "STUCK_AFTER_SECONDS", 0)
    swept = chalice_app.sweep_decisions(SCHEDULED_EVENT, LocalContext("sweep_decisions"))
    # THEN it sent the decision the claim kept, and the case is decided
    assert swept["cases"] == [{"case_id": case_id, "tenant_id": "alpha", "move": "answered"}]
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    assert events_of(world, case_id).count("decision") == 1


def test_the_sweeper_leaves_a_fresh_claim_alone(world, client):
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    lose_the_claims_answer(world)
    assert call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 500
    # A decision in flight (younger than the API's timeout) is not sent a second time.
    assert world.cordon.reviews.sweep_claims(older_than_seconds=120) == []
    assert stuck(world, case_id)


def test_a_claim_the_workflow_took_before_is_accepted_not_sent_twice(world, client):
    # GIVEN a claim whose answer was lost, then SendTaskSuccess went through and the Lambda
    # died before it could say so: the workflow applies the decision
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    lose_the_claims_answer(world)
    assert call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 500
    case = world.cordon.cases.get(case_id)
    workflow = world.cordon.reviews.workflow
    workflow.succeed(case.review["claim"]["token"], case.decisions[0])
    # ... and Step Functions answers a second SendTaskSuccess on that token as AWS does
    # (moto accepts it again without a word, so that answer is injected)
    workflow.sfn.meta.events.register("after-call.sfn.SendTaskSuccess", _task_timed_out)
    # WHEN the sweeper finds the claim before the decision is applied
    (row,) = world.cordon.reviews.sweep_claims(older_than_seconds=0)
    # THEN the running workflow has the decision: it is left to apply it, once
    assert row["move"] == "taken"
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    events = events_of(world, case_id)
    assert events.count("decision") == 1 and events.count("hashes_shared") == 1


def _task_timed_out(**_: Any) -> None:
    raise ClientError(
        {"Error": {"Code": "TaskTimedOut", "Message": "Provided task does not exist anymore"}},
        "SendTaskSuccess",
    )


def _task_does_not_exist(**_: Any) -> None:
    raise ClientError({"Error": {"Code": "TaskDoesNotExist", "Message": "-"}}, "SendTaskSuccess")


def test_a_claim_in_an_execution_that_ended_goes_back_to_the_queue(world, client):
    # GIVEN a stuck claim whose execution has since ended (its task failed by something
    # else: moto's StopExecution leaves a waiting execution running)
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    lose_the_claims_answer(world)
    assert call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 500
    case = world.cordon.cases.get(case_id)
    arn = case.review["execution_arn"]
    workflow = world.cordon.reviews.workflow
    token = case.review["claim"]["token"]
    workflow.sfn.send_task_failure(taskToken=token, error="Operator.Cancelled")
    world.settle(until=lambda: workflow.status(arn) == "FAILED", timeout=10)
    # ... whose token Step Functions no longer knows (moto takes it without a word: injected)
    workflow.sfn.meta.events.register("after-call.sfn.SendTaskSuccess", _task_does_not_exist)
    # WHEN the sweeper runs
    (row,) = world.cordon.reviews.sweep_claims(older_than_seconds=0)
    # THEN the decision is undone and a new review brings the case back to the queue
    assert row["move"] == "restarted"
    world.settle(until=lambda: waiting(world, case_id))
    case = world.cordon.cases.get(case_id)
    assert not case.decisions and "claim" not in case.review and case.review["attempt"] == 2
    assert "decision_undone" in events_of(world, case_id)
    # ... where it can be decided, once
    assert call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 202
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")


def test_a_claim_the_review_timed_out_under_is_undone_by_the_escalation(world, client):
    # GIVEN a stuck claim (the Lambda died before SendTaskSuccess) and a review timing out
    _, case_id = held_for_review(world, review_timeout_seconds=2)
    key = world.reviewer("alpha", "rev-ana")
    lose_the_claims_answer(world)
    assert call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 500
    # WHEN the workflow escalates on its timeout
    world.settle(until=lambda: waiting(world, case_id, "escalated"), timeout=30)
    # THEN the decision it never took is off the case, and a second reviewer may decide
    case = world.cordon.cases.get(case_id)
    assert not case.decisions and "claim" not in case.review and case.token
    assert "decision_undone" in events_of(world, case_id)


def test_on_call_sweeps_from_the_shell(world, client, capsys):
    from cordon_cli.main import main

    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    lose_the_claims_answer(world)
    assert call(client, key, "POST", f"/cases/{case_id}/decision", CONFIRM).status_code == 500
    assert main(["reviews", "sweep", "--older-than", "0", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows == [
        {"case_id": case_id, "tenant_id": "alpha", "move": "answered"},
        {"summary": {"settled": 1}},
    ]
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
