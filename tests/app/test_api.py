"""The reviewers' API answers, through Chalice's test client: what another tenant learns, and
what a malformed body gets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

import app as chalice_app
from tests.conftest import World
from tests.functional.test_ingest import BAD_JPEG, pdq_of
from tests.functional.test_review import held_for_review


@pytest.fixture
def client() -> Any:
    with Client(chalice_app.app) as test_client:
        yield test_client


def call(client: Any, key: str, method: str, path: str, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if method == "GET":
        return client.http.get(path, headers=headers)
    raw = body if isinstance(body, str) else json.dumps(body if body is not None else {})
    return client.http.request(method, path, headers=headers, body=raw.encode())


def taken_down(world: World) -> str:
    """Tenant alpha's automated takedown, its case final (no workflow to wait for)."""
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    ref = world.upload("alpha-uploads", "poster.jpg", BAD_JPEG)
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantined"
    return case["case_id"]


def test_another_tenants_case_answers_as_an_unknown_one(world: World, client: Any):
    case_id = taken_down(world)
    world.tenant("beta", "beta-uploads")
    outsider = world.reviewer("beta", "rev-zoe")
    unknown = "0" * len(case_id)
    requests = [
        ("GET", "/cases/{}", None),
        ("GET", "/cases/{}/statement", None),
        ("POST", "/cases/{}/decision", {"action": "reject", "reason": "mine"}),
        ("POST", "/cases/{}/appeal", {"reason": "mine"}),
    ]
    for method, path, body in requests:
        theirs = call(client, outsider, method, path.format(case_id), body)
        missing = call(client, outsider, method, path.format(unknown), body)
        assert theirs.status_code == missing.status_code == 404, (method, path)
        # The same body, but for the id the caller sent: nothing says the case exists.
        assert theirs.json_body == {"error": f"no case {case_id}"}, (method, path)
        assert missing.json_body == {"error": f"no case {unknown}"}, (method, path)
        assert theirs.headers == missing.headers, (method, path)
    assert world.cordon.cases.get(case_id)["status"] == "quarantined"
    # Its own tenant still sees it.
    owner = world.reviewer("alpha", "rev-ana")
    assert call(client, owner, "GET", f"/cases/{case_id}").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "confirm", "labels": 5}, "labels"),
        ({"action": "confirm", "labels": "abc"}, "labels"),
        ({"action": "confirm", "labels": [1, 2]}, "labels"),
        ({"action": "confirm", "reason": {"text": "x"}}, "reason"),
        ({"action": "remove"}, "action"),
        ({"reason": "no action"}, "action"),
        ([{"action": "confirm"}], "body"),
        ("{not json", "body"),
    ],
)
def test_a_malformed_decision_is_refused_naming_the_field(world: World, client, body, field):
    case_id = taken_down(world)
    key = world.reviewer("alpha", "rev-ana")
    before = world.cordon.cases.get(case_id)
    response = call(client, key, "POST", f"/cases/{case_id}/decision", body)
    assert response.status_code == 400, response.body
    assert set(response.json_body) == {"error"}
    assert response.json_body["error"].startswith(f"{field} must be") or (
        field == "body" and response.json_body["error"].startswith("the body must be")
    )
    assert world.cordon.cases.get(case_id) == before  # nothing recorded


def test_a_string_of_labels_is_refused_not_split_into_letters(world: World, client: Any):
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    response = call(
        client, key, "POST", f"/cases/{case_id}/decision", {"action": "reject", "labels": "abc"}
    )
    assert response.status_code == 400, response.body
    assert response.json_body["error"] == "labels must be a list of strings, not a string"
    waiting = world.cordon.cases.get(case_id)
    assert waiting["status"] == "pending_review" and waiting["review"].get("token")
    assert not waiting.get("decisions")
    body = {"action": "reject", "reason": "a news photo", "labels": ["abc"]}
    assert call(client, key, "POST", f"/cases/{case_id}/decision", body).status_code == 202
    (decision,) = world.cordon.cases.get(case_id)["decisions"]
    assert decision["labels"] == ["abc"] and decision["reason"] == "a news photo"
    world.settle(until=lambda: world.cordon.cases.get(case_id)["status"] == "reinstated")


def test_malformed_appeals_and_opinions_are_refused_naming_the_field(world: World, client):
    case_id = taken_down(world)
    key = world.reviewer("alpha", "rev-ana")
    for body, field in (({}, "reason"), ({"reason": 7}, "reason"), ({"reason": " "}, "reason")):
        response = call(client, key, "POST", f"/cases/{case_id}/appeal", body)
        assert response.status_code == 400 and response.json_body["error"].startswith(field)
    assert world.cordon.cases.get(case_id)["status"] == "quarantined"  # no appeal started
    value = pdq_of(BAD_JPEG)
    for body, field in (
        ({"opinion": 1}, "opinion"),
        ({"opinion": "confirm", "reason": []}, "reason"),
    ):
        response = call(client, key, "POST", f"/hashes/pdq/{value}/opinion", body)
        assert response.status_code == 400 and response.json_body["error"].startswith(field)
    response = call(client, key, "PUT", f"/hashes/pdq/{value}/allow", {"reason": 5})
    assert response.status_code == 400 and response.json_body["error"].startswith("reason")
    assert not world.cordon.tenants.allowed_hashes("alpha", [("pdq", value)])
