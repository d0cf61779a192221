"""Webhook signatures and retry decisions: pure functions, no network."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

import pytest

from chalicelib import webhooks
from chalicelib.webhooks import (
    Disposition,
    backoff_delay,
    deliver,
    disposition,
    parse_signature_header,
    retry_after_seconds,
    sign,
    signature_header,
    verify,
)

SECRET = b"whsec-tenant-a"
OLD_SECRET = b"whsec-tenant-a-2023"
BODY = b'{"change":"added","signal_type":"pdq","value":"f8f8"}'
NOW = 1_700_000_000


def header(secret: bytes | list[bytes] = SECRET, timestamp: int = NOW, body: bytes = BODY) -> str:
    return signature_header(secret, timestamp, body)


# --- sign / verify ----------------------------------------------------------------------------


def test_sign_is_hmac_sha256_over_timestamp_dot_body():
    # GIVEN the documented algorithm, recomputed independently of the module
    expected = hmac.new(SECRET, f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    # THEN sign and the header agree with it
    assert sign(SECRET, NOW, BODY) == expected
    assert header() == f"t={NOW},v1={expected}"


def test_round_trip_verifies():
    assert verify(SECRET, header(), BODY, now=NOW)


def test_round_trip_with_the_real_clock():
    import time

    assert verify(SECRET, header(timestamp=int(time.time())), BODY)


def test_tampered_body_is_rejected():
    tampered = BODY.replace(b"added", b"retired")
    assert not verify(SECRET, header(), tampered, now=NOW)
    assert not verify(SECRET, header(), BODY + b" ", now=NOW)


def test_wrong_secret_is_rejected():
    assert not verify(b"someone-else", header(), BODY, now=NOW)


def test_changed_timestamp_is_rejected():
    # The timestamp is signed: moving it forward to dodge the replay window breaks the HMAC.
    digest = sign(SECRET, NOW - 3600, BODY)
    assert not verify(SECRET, f"t={NOW},v1={digest}", BODY, now=NOW)


@pytest.mark.parametrize("age", [301, 3600, -301, -86_400])
def test_stale_or_future_timestamps_are_rejected(age: int):
    assert not verify(SECRET, header(timestamp=NOW - age), BODY, now=NOW)


@pytest.mark.parametrize("age", [0, 299, 300, -300])
def test_timestamps_within_the_tolerance_are_accepted(age: int):
    assert verify(SECRET, header(timestamp=NOW - age), BODY, now=NOW)


def test_tolerance_is_adjustable():
    assert not verify(SECRET, header(timestamp=NOW - 10), BODY, now=NOW, tolerance_seconds=5)
    assert verify(SECRET, header(timestamp=NOW - 10), BODY, now=NOW, tolerance_seconds=10)


def test_rotation_two_v1_entries_each_secret_is_accepted():
    # GIVEN Cordon signs with the new and the old secret while rotating
    value = header([SECRET, OLD_SECRET])
    assert value.count("v1=") == 2
    # THEN a receiver holding either one accepts, a stranger does not
    assert verify(SECRET, value, BODY, now=NOW)
    assert verify(OLD_SECRET, value, BODY, now=NOW)
    assert not verify(b"stranger", value, BODY, now=NOW)


def test_receiver_side_rotation_several_secrets():
    assert verify([b"next-secret", SECRET], header(), BODY, now=NOW)
    assert not verify([b"next-secret", b"other"], header(), BODY, now=NOW)


def test_unknown_schemes_are_ignored_next_to_a_good_v1():
    value = f"t={NOW},v0=deadbeef,v2={'ab' * 32},v1={sign(SECRET, NOW, BODY)}"
    assert verify(SECRET, value, BODY, now=NOW)


def test_spaces_and_uppercase_hex_are_tolerated():
    digest = sign(SECRET, NOW, BODY)
    assert verify(SECRET, f"  t = {NOW} ,  v1 = {digest.upper()}  ", BODY, now=NOW)


def test_only_a_bad_v1_next_to_a_good_one_still_verifies():
    value = f"t={NOW},v1={'0' * 64},v1={sign(SECRET, NOW, BODY)}"
    assert verify(SECRET, value, BODY, now=NOW)


GOOD = sign(SECRET, NOW, BODY)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        ",,,",
        "=",
        "t=,v1=",
        f"v1={GOOD}",  # no timestamp
        f"t={NOW}",  # no signature
        f"t=abc,v1={GOOD}",
        f"t=-{NOW},v1={GOOD}",
        f"t={NOW}.5,v1={GOOD}",
        f"t={NOW},t={NOW},v1={GOOD}",  # which timestamp was signed?
        f"t={'9' * 400},v1={GOOD}",
        f"t={NOW},v1={GOOD[:-1]}",
        f"t={NOW},v1={GOOD}00",
        f"t={NOW},v1={'zz' * 32}",
        f"t={NOW},v1=ü{GOOD[1:]}",  # non-ASCII would make compare_digest raise
        f"t={NOW};v1={GOOD}",
        f"t={NOW} v1={GOOD}",
        "t=\x00,v1=\x00",
        "t=" + "=" * 10_000,
    ],
)
def test_malformed_headers_give_false_never_raise(value: str):
    assert not verify(SECRET, value, BODY, now=NOW)


@pytest.mark.parametrize("value", [None, 123, b"t=1,v1=00", ["t=1"]])
def test_headers_that_are_not_strings_give_false(value: object):
    assert not verify(SECRET, value, BODY, now=NOW)  # type: ignore[arg-type]


def test_body_that_is_not_bytes_gives_false():
    assert not verify(SECRET, header(), BODY.decode(), now=NOW)  # type: ignore[arg-type]


def test_parse_signature_header():
    assert parse_signature_header(header([SECRET, OLD_SECRET])) == (
        NOW,
        [sign(SECRET, NOW, BODY), sign(OLD_SECRET, NOW, BODY)],
    )
    assert parse_signature_header("nonsense") is None


def test_empty_or_string_secrets_are_refused_by_the_signer():
    with pytest.raises(ValueError):
        sign(b"", NOW, BODY)
    with pytest.raises(ValueError):
        signature_header([], NOW, BODY)
    with pytest.raises(TypeError):
        signature_header("text-secret", NOW, BODY)  # type: ignore[arg-type]


def test_an_empty_secret_verifies_nothing():
    forged = f"t={NOW},v1={hmac.new(b'', f'{NOW}.'.encode() + BODY, 'sha256').hexdigest()}"
    assert not verify(b"", forged, BODY, now=NOW)


def test_reason_attribute_is_the_one_cordon_dlq_reads():
    from chalicelib.ingest import REASON_ATTRIBUTE

    assert webhooks.REASON_ATTRIBUTE == REASON_ATTRIBUTE


# --- retry decisions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Disposition.DELIVERED),
        (202, Disposition.DELIVERED),
        (204, Disposition.DELIVERED),
        (301, Disposition.GIVE_UP),
        (400, Disposition.GIVE_UP),
        (401, Disposition.GIVE_UP),
        (404, Disposition.GIVE_UP),
        (410, Disposition.GIVE_UP),
        (408, Disposition.RETRY),
        (429, Disposition.RETRY),
        (500, Disposition.RETRY),
        (503, Disposition.RETRY),
        (None, Disposition.RETRY),
    ],
)
def test_disposition(status: int | None, expected: Disposition):
    assert disposition(status) is expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"Retry-After": "-1"}, None),
        ({"Retry-After": "inf"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_seconds(headers: Mapping[str, str] | None, expected: float | None):
    assert retry_after_seconds(headers) == expected


def test_backoff_is_exponential_capped_and_fully_jittered():
    top = lambda low, high: high  # noqa: E731 - the largest the jitter can draw
    assert [backoff_delay(n, 0.5, 3.0, top) for n in (1, 2, 3, 4, 5)] == [0.5, 1, 2, 3, 3]
    assert backoff_delay(4, 0.5, 30.0, lambda low, high: low) == 0.0


# --- deliver, with a scripted transport -------------------------------------------------------


class Script:
    """A fake transport answering from a list: an int status, (status, headers) or an error."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, bytes, dict[str, str], float]] = []

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float):
        self.calls.append((url, body, dict(headers), timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer if isinstance(answer, tuple) else (answer, {})


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(script: Script, **options: object) -> tuple[webhooks.DeliveryResult, Sleeps]:
    sleeps = Sleeps()
    options = {"attempts": 4, "base_delay": 0.5, "draw": lambda low, high: high, **options}
    result = deliver(
        "https://tenant.example/hook",
        SECRET,
        "evt-1",
        {"value": "f8f8", "change": "added"},
        post=script,
        sleep=sleeps,
        clock=lambda: NOW,
        **options,  # type: ignore[arg-type]
    )
    return result, sleeps


def test_deliver_sends_signed_json_with_the_event_id():
    script = Script(200)
    result, sleeps = run(script)
    assert result == webhooks.DeliveryResult(True, 1, 200, "")
    assert sleeps == []
    url, body, headers, timeout = script.calls[0]
    assert url == "https://tenant.example/hook"
    assert json.loads(body) == {"value": "f8f8", "change": "added"}
    assert headers["Content-Type"] == "application/json"
    assert headers[webhooks.EVENT_ID_HEADER] == "evt-1"
    assert verify(SECRET, headers[webhooks.SIGNATURE_HEADER], body, now=NOW)
    assert timeout == 5.0


def test_deliver_retries_with_backoff_then_succeeds():
    script = Script(500, OSError("connection reset"), 429, 200)
    result, sleeps = run(script)
    assert result.delivered and result.attempts == 4 and result.status == 200
    assert sleeps == [0.5, 1.0, 2.0]
    assert len({call[2][webhooks.EVENT_ID_HEADER] for call in script.calls}) == 1


def test_deliver_honours_retry_after():
    result, sleeps = run(Script((503, {"Retry-After": "7"}), 200))
    assert result.delivered
    assert sleeps == [7.0]


def test_deliver_gives_up_on_a_retry_after_beyond_max_delay():
    result, sleeps = run(Script((429, {"Retry-After": "3600"}), 200), max_delay=30.0)
    assert not result.delivered and result.attempts == 1 and result.status == 429
    assert "Retry-After" in result.error
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 302])
def test_deliver_does_not_retry_permanent_failures(status: int):
    script = Script(status, 200)
    result, sleeps = run(script)
    assert result == webhooks.DeliveryResult(False, 1, status, f"HTTP {status}: not retried")
    assert len(script.calls) == 1 and sleeps == []


def test_deliver_exhausts_attempts_without_a_final_sleep():
    script = Script(500, 502, 503, 504)
    result, sleeps = run(script)
    assert not result.delivered and result.attempts == 4 and result.status == 504
    assert result.error == "HTTP 504: gave up after 4 attempts"
    assert len(sleeps) == 3


def test_deliver_network_errors_leave_no_status():
    result, _ = run(Script(*[ConnectionRefusedError("refused")] * 4))
    assert not result.delivered and result.status is None
    assert result.error.startswith("ConnectionRefusedError")


def test_deliver_refuses_non_http_urls_without_sending():
    script = Script()
    result = deliver("file:///etc/passwd", SECRET, "evt", {}, post=script)
    assert not result.delivered and result.attempts == 0 and script.calls == []


def test_deliver_always_makes_at_least_one_attempt():
    result, _ = run(Script(503), attempts=0)
    assert not result.delivered and result.attempts == 1
