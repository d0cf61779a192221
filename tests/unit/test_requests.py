"""The API's request readers: plain values out, or a 400 that names the field."""

from __future__ import annotations

import json

import pytest

from chalicelib import requests
from chalicelib.errors import RequestError


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_a_decision_reads_its_three_fields():
    read = requests.decision(body(action="reject", reason="news", labels=[" press ", "press"]))
    assert read == requests.Decision("reject", "news", ("press",))
    assert requests.decision(body(action="escalate")) == requests.Decision("escalate", "", ())


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"action": "delete"}, "action must be one of confirm, reject, escalate, not 'delete'"),
        ({}, "action must be one of confirm, reject, escalate, not null"),
        ({"action": ["confirm"]}, "action must be one of confirm, reject, escalate, not a list"),
        ({"action": "confirm", "labels": 5}, "labels must be a list of strings, not a number"),
        ({"action": "confirm", "labels": "abc"}, "labels must be a list of strings, not a string"),
        ({"action": "confirm", "labels": {"a": 1}}, "labels must be a list of strings, not an"),
        ({"action": "confirm", "labels": ["a", 5]}, "labels must be a list of non-empty strings"),
        ({"action": "confirm", "labels": [" "]}, "labels must be a list of non-empty strings"),
        ({"action": "confirm", "labels": ["x"] * 21}, "labels must hold at most 20"),
        ({"action": "confirm", "labels": ["x" * 101]}, "labels: a label must be at most 100"),
        ({"action": "confirm", "reason": 5}, "reason must be a string, not a number"),
        ({"action": "confirm", "reason": None}, "reason must be a string, not null"),
        ({"action": "confirm", "reason": "x" * 4001}, "reason must be at most 4000 characters"),
    ],
)
def test_a_wrong_decision_field_is_named(fields, named):
    with pytest.raises(RequestError) as raised:
        requests.decision(json.dumps(fields))
    assert str(raised.value).startswith(named)
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (b"{not json", "the body must be a JSON object: it is not JSON"),
        (b'["confirm"]', "the body must be a JSON object, not a list"),
        (b'"confirm"', "the body must be a JSON object, not a string"),
        (b"null", "the body must be a JSON object, not null"),
    ],
)
def test_a_body_must_be_an_object(raw, named):
    with pytest.raises(RequestError, match=named):
        requests.decision(raw)


def test_no_body_reads_as_an_empty_object():
    assert requests.json_object(None) == {}
    assert requests.json_object(b"  ") == {}
    assert requests.allow(None) == ""


def test_an_appeal_needs_a_reason():
    assert requests.appeal(body(reason="it is news reporting")) == "it is news reporting"
    for wrong, named in (({}, "must not be empty"), ({"reason": "  "}, "must not be empty")):
        with pytest.raises(RequestError, match=f"reason {named}"):
            requests.appeal(json.dumps(wrong))
    with pytest.raises(RequestError, match="reason must be a string, not a list"):
        requests.appeal(body(reason=["a"]))


def test_an_opinion_and_an_allow_listing():
    assert requests.opinion(body(opinion="dispute", reason="a meme")) == ("dispute", "a meme")
    assert requests.opinion(body(opinion="confirm")) == ("confirm", "")
    with pytest.raises(RequestError, match="opinion must be one of confirm, dispute, not 'maybe'"):
        requests.opinion(body(opinion="maybe"))
    with pytest.raises(RequestError, match="reason must be a string, not a boolean"):
        requests.opinion(body(opinion="confirm", reason=True))
    assert requests.allow(body(reason="our own logo")) == "our own logo"
    with pytest.raises(RequestError, match="reason must be a string, not a number"):
        requests.allow(body(reason=1))


def test_a_feed_page():
    assert requests.feed_page(None) == (0, 100)
    assert requests.feed_page({"cursor": "42", "limit": "5000"}) == (42, 1000)
    assert requests.feed_page({"limit": "0"}) == (0, 1)
    for wrong in ("x", "-1", " 1", "1e3", "²"):
        with pytest.raises(RequestError, match="cursor must be a whole number"):
            requests.feed_page({"cursor": wrong})
    with pytest.raises(RequestError, match="limit must be a whole number"):
        requests.feed_page({"limit": "ten"})
