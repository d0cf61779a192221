"""The reviewers' API answers, through Chalice's test client: what another tenant learns, what a
malformed body gets, and what the review page is sent with."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

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
    assert world.cordon.cases.get(case_id).status == "quarantined"
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
    assert waiting.status == "pending_review" and waiting.token
    assert not waiting.decisions
    body = {"action": "reject", "reason": "a news photo", "labels": ["abc"]}
    assert call(client, key, "POST", f"/cases/{case_id}/decision", body).status_code == 202
    (decision,) = world.cordon.cases.get(case_id).decisions
    assert decision["labels"] == ["abc"] and decision["reason"] == "a news photo"
    world.settle(until=lambda: world.cordon.cases.get(case_id).status == "reinstated")


def test_malformed_appeals_and_opinions_are_refused_naming_the_field(world: World, client):
    case_id = taken_down(world)
    key = world.reviewer("alpha", "rev-ana")
    for body, field in (({}, "reason"), ({"reason": 7}, "reason"), ({"reason": " "}, "reason")):
        response = call(client, key, "POST", f"/cases/{case_id}/appeal", body)
        assert response.status_code == 400 and response.json_body["error"].startswith(field)
    assert world.cordon.cases.get(case_id).status == "quarantined"  # no appeal started
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


def _policy(header: str) -> dict[str, list[str]]:
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def _allowed_by(sources: list[str], url: str) -> bool:
    """Whether a CSP source list admits `url` (scheme and host sources, `*.` wildcards)."""
    target = urlsplit(url)
    for source in sources:
        scheme, _, host = source.partition("://")
        if scheme != target.scheme:
            continue
        if host == target.netloc or (host.startswith("*.") and target.netloc.endswith(host[1:])):
            return True
    return False


def test_the_review_page_is_sent_with_security_headers(world: World, client: Any):
    page = client.http.get("/review")
    assert page.status_code == 200
    headers = {name.lower(): value for name, value in page.headers.items()}
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    policy = _policy(headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # The image comes from a presigned URL of the evidence bucket: the policy admits it.
    url = world.cordon.s3.generate_presigned_url(
        "get_object", Params={"Bucket": world.cordon.settings.evidence_bucket, "Key": "k"}
    )
    assert _allowed_by(policy["img-src"], url), (policy["img-src"], url)
    assert not _allowed_by(policy["img-src"], "https://attacker.example/pixel.gif")
    # Nothing inline for the policy to refuse: the page's code is in files of its own.
    html = page.body.decode()
    assert '<script src="review.js" defer></script>' in html
    assert "<script>" not in html and "<style>" not in html and "style=" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)  # no onclick= and the like


@pytest.mark.parametrize(
    ("path", "kind"), [("/review.js", "text/javascript"), ("/review.css", "text/css")]
)
def test_the_pages_script_and_styles_are_served_as_what_they_are(client: Any, path, kind):
    response = client.http.get(path)
    assert response.status_code == 200
    headers = {name.lower(): value for name, value in response.headers.items()}
    assert headers["content-type"] == f"{kind}; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff"
    assert response.body
