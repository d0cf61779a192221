"""Who sees a shared hash and what it may do: visibility, opinions, allow-lists, flood guard.

Everything goes through the same doors a tenant uses: uploads to its bucket, the API with its
reviewers' keys, its SNS subscription, its webhook, the delta feed.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from chalice.test import Client
from PIL import Image

import app as chalice_app
from chalicelib import signals
from chalicelib.adapters.flood import FloodGuard
from chalicelib.models import HashRecord
from chalicelib.sharing import subscription_filter
from cordon_cli import samples
from cordon_cli.operations import add_tenant, subscribe_queue
from tests.conftest import World
from tests.functional.receiver import Receiver
from tests.functional.test_ingest import pdq_of
from tests.functional.test_sharing import received, stream_runner


def sha256_of(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def call(world: World, tenant: str, method: str, path: str, body: Any = None) -> Any:
    key = world.reviewer(tenant, f"rev-{tenant}")
    with Client(chalice_app.app) as client:
        response = client.http.request(
            method,
            path,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            body=json.dumps(body or {}).encode(),
        )
    return response.status_code, json.loads(response.body or b"{}")


def outcome(world: World, tenant: str, bucket: str, key: str, data: bytes) -> dict[str, Any]:
    ref = world.upload(bucket, key, data)
    world.settle()
    case = world.case(tenant, ref)
    assert case is not None
    return case


@pytest.fixture
def poster() -> bytes:
    return samples.jpeg(samples.known_bad(1)[0], quality=85)


# ---------------------------------------------------------------- visibility


def test_a_private_hash_is_invisible_to_other_tenants_everywhere(
    world: World, poster: bytes, receiver: Receiver
):
    # GIVEN alpha keeps its hashes to itself, beta and gamma subscribe every way there is
    world.tenant("alpha", "alpha-up")
    world.tenant("beta", "beta-up")
    topic = world.stack.refs["HashUpdatesTopic"]
    queues = {
        name: subscribe_queue(
            world.cordon,
            f"{name}-updates",
            topic,
            subscription_filter(world.cordon.tenants.get(name)),
        )
        for name in ("alpha", "beta")
    }
    hooks = {
        name: world.cordon.tenants.set_webhook(name, f"{receiver.url}?tenant={name}")
        for name in ("alpha", "beta")
    }
    receiver.secret = hooks["alpha"].encode()
    runner = stream_runner(world)
    _, start = call(world, "beta", "GET", "/hashes/feed?cursor=0&limit=1000")
    # WHEN a hash only alpha may see is shared
    sha = sha256_of(poster)
    world.cordon.hashes.put(
        [HashRecord("sha256", sha, ("x",), source="alpha", visibility="private")]
    )
    runner.poll_once()
    # THEN beta's upload of the same bytes is allowed, alpha's is taken down
    assert outcome(world, "beta", "beta-up", "a.jpg", poster)["verdict"]["action"] == "ALLOW"
    assert outcome(world, "alpha", "alpha-up", "a.jpg", poster)["verdict"]["action"] == "TAKEDOWN"
    # and only alpha heard of it: SNS, webhook, feed
    assert [u["value"] for u in received(world, queues["alpha"])] == [sha]
    assert received(world, queues["beta"]) == []
    assert len(receiver.received) == 1
    delivered = receiver.received[0]
    assert delivered.verified and delivered.path.endswith("tenant=alpha")
    assert [u["value"] for u in json.loads(delivered.body)["updates"]] == [sha]
    _, beta_feed = call(world, "beta", "GET", f"/hashes/feed?cursor={start['cursor']}")
    _, alpha_feed = call(world, "alpha", "GET", f"/hashes/feed?cursor={start['cursor']}")
    assert all(u["value"] != sha for u in beta_feed["updates"])
    assert beta_feed["cursor"] == alpha_feed["cursor"]  # beta's cursor moved past it too
    assert [u["value"] for u in alpha_feed["updates"] if u["signal_type"] == "sha256"] == [sha]
    # and beta cannot even tell it exists
    status, _ = call(world, "beta", "POST", f"/hashes/sha256/{sha}/opinion", {"opinion": "dispute"})
    assert status == 404


def test_a_group_hash_reaches_the_group_only(world: World, poster: bytes):
    world.tenant("alpha", "alpha-up", groups=["eu-forum"])
    world.tenant("beta", "beta-up", groups=["eu-forum"])
    world.tenant("gamma", "gamma-up")
    world.cordon.hashes.put(
        [
            HashRecord(
                "sha256",
                sha256_of(poster),
                source="alpha",
                visibility="groups",
                groups=("eu-forum",),
            )
        ]
    )

    assert outcome(world, "beta", "beta-up", "p.jpg", poster)["verdict"]["action"] == "TAKEDOWN"
    assert outcome(world, "gamma", "gamma-up", "p.jpg", poster)["verdict"]["action"] == "ALLOW"


def test_a_confirmed_hash_is_shared_as_the_tenants_policy_says(world: World):
    from tests.functional.test_review import COPY, held_for_review, status_of

    _, case_id = held_for_review(world, share_visibility="private")
    status, _ = call(world, "alpha", "POST", f"/cases/{case_id}/decision", {"action": "confirm"})
    assert status == 202
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")

    record = world.cordon.hashes.get_many([("sha256", sha256_of(COPY))])[
        ("sha256", sha256_of(COPY))
    ]
    assert (record.visibility, record.source, record.case_id) == ("private", "alpha", case_id)


def test_retro_scan_skips_tenants_a_hash_is_not_shared_with(world: World, poster: bytes):
    world.tenant("alpha", "alpha-up")
    world.tenant("beta", "beta-up")
    held = world.upload("beta-up", "old.jpg", poster)
    world.settle()
    runner = stream_runner(world)

    world.cordon.hashes.put(
        [HashRecord("sha256", sha256_of(poster), source="alpha", visibility="private")]
    )
    runner.poll_once()

    assert world.case("beta", held)["status"] == "allowed"
    assert world.exists("beta-up", "old.jpg")


# ---------------------------------------------------------------- opinions


def test_disputes_by_enough_tenants_stop_automatic_takedown_and_tell_the_source(
    world: World, poster: bytes
):
    # GIVEN alpha's hash, shared with all; its notices queue; a threshold of two tenants
    for name in ("alpha", "beta", "gamma", "delta"):
        world.tenant(name, f"{name}-up")
    notices = subscribe_queue(
        world.cordon,
        "alpha-notices",
        world.stack.refs["TenantNoticesTopic"],
        {"tenant_id": ["alpha"]},
    )
    sha = sha256_of(poster)
    world.cordon.hashes.put([HashRecord("sha256", sha, ("x",), source="alpha")])
    assert world.cordon.opinions.threshold == 2
    # WHEN beta disputes it, delta's upload is still taken down
    status, answer = call(
        world,
        "beta",
        "POST",
        f"/hashes/sha256/{sha}/opinion",
        {"opinion": "dispute", "reason": "a"},
    )
    assert (status, answer["status"], answer["disputes"]) == (200, "active", 1)
    assert outcome(world, "delta", "delta-up", "1.jpg", poster)["verdict"]["action"] == "TAKEDOWN"
    # WHEN gamma disputes it too
    _, answer = call(
        world, "gamma", "POST", f"/hashes/sha256/{sha.upper()}/opinion", {"opinion": "dispute"}
    )
    assert answer["status"] == "disputed"
    # THEN nobody's upload is taken down automatically: it is held for review, reason given
    case = outcome(world, "delta", "delta-up", "2.jpg", poster)
    assert case["verdict"]["action"] == "REVIEW"
    assert "disputed" in case["verdict"]["reasons"][0]
    # and alpha was told
    told = [
        json.loads(json.loads(m["Body"])["Message"])
        for m in world.cordon.sqs.receive_message(QueueUrl=notices, MaxNumberOfMessages=10).get(
            "Messages", []
        )
    ]
    assert [(n["event"], n["value"], n["disputes"]) for n in told] == [("hash_disputed", sha, 2)]
    # WHEN gamma changes its mind, the hash is active again
    _, answer = call(
        world, "gamma", "POST", f"/hashes/sha256/{sha}/opinion", {"opinion": "confirm"}
    )
    assert (answer["status"], answer["disputes"], answer["endorsements"]) == ("active", 1, 1)
    assert outcome(world, "delta", "delta-up", "3.jpg", poster)["verdict"]["action"] == "TAKEDOWN"


def test_the_source_disputing_its_own_hash_does_not_count(world: World):
    world.tenant("alpha", "alpha-up")
    world.tenant("beta", "beta-up")
    world.cordon.hashes.put([HashRecord("md5", "ab" * 16, source="alpha")])

    call(world, "alpha", "POST", f"/hashes/md5/{'ab' * 16}/opinion", {"opinion": "dispute"})
    _, answer = call(
        world, "beta", "POST", f"/hashes/md5/{'ab' * 16}/opinion", {"opinion": "dispute"}
    )

    assert (answer["status"], answer["disputes"]) == ("active", 1)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("/hashes/md5/" + "ab" * 16 + "/opinion", {"opinion": "like"}, 400),
        ("/hashes/md5/nothex/opinion", {"opinion": "dispute"}, 400),
        ("/hashes/nosuch/abc/opinion", {"opinion": "dispute"}, 404),
        ("/hashes/md5/" + "cd" * 16 + "/opinion", {"opinion": "dispute"}, 404),
    ],
)
def test_opinions_that_cannot_be_taken_are_refused(world: World, path, body, expected):
    world.tenant("alpha", "alpha-up")
    world.cordon.hashes.put([HashRecord("md5", "ab" * 16, source="import")])

    status, answer = call(world, "alpha", "POST", path, body)

    assert status == expected and answer["error"]


def test_a_tenants_allow_list_overrides_a_shared_hash_for_it_alone(world: World, poster: bytes):
    world.tenant("alpha", "alpha-up")
    world.tenant("beta", "beta-up")
    sha = sha256_of(poster)
    world.cordon.hashes.put([HashRecord("sha256", sha, ("x",), source="import")])

    status, _ = call(world, "alpha", "PUT", f"/hashes/sha256/{sha}/allow", {"reason": "news use"})
    assert status == 200

    allowed = outcome(world, "alpha", "alpha-up", "n.jpg", poster)
    assert allowed["verdict"]["action"] == "ALLOW"
    assert any("allow-list" in r and "news use" in r for r in allowed["verdict"]["reasons"])
    assert outcome(world, "beta", "beta-up", "n.jpg", poster)["verdict"]["action"] == "TAKEDOWN"
    # WHEN alpha takes it off its list, the shared hash applies to alpha again
    call(world, "alpha", "DELETE", f"/hashes/sha256/{sha}/allow")
    assert outcome(world, "alpha", "alpha-up", "m.jpg", poster)["verdict"]["action"] == "TAKEDOWN"


# ---------------------------------------------------------------- flood guard


def test_the_flood_guard_holds_a_hash_that_suddenly_matches_too_much(world: World):
    from cordon_cli import operations

    # GIVEN a guard of two objects a window, and one shared hash
    world.cordon.pipeline.flood_guard = FloodGuard(
        world.cordon.hashes, world.cordon.hashes_table, limit=2, window_seconds=600
    )
    world.tenant("alpha", "alpha-up")
    world.tenant("beta", "beta-up")
    image = samples.known_bad(1)[0]
    world.share("pdq", pdq_of(samples.jpeg(image)))
    copies = [samples.jpeg(image, quality=q) for q in (90, 80, 70, 60)]
    # WHEN three objects match it, across tenants
    actions = [
        outcome(world, tenant, f"{tenant}-up", f"{n}.jpg", copies[n])["verdict"]["action"]
        for n, tenant in enumerate(("alpha", "beta", "alpha"))
    ]
    # THEN the third is held for review, not taken down, and the hash is held for everyone
    assert actions == ["TAKEDOWN", "TAKEDOWN", "REVIEW"]
    record = next(
        iter(world.cordon.hashes.get_many([("pdq", pdq_of(samples.jpeg(image)))]).values())
    )
    assert record.status == "held"
    # WHEN an operator clears it, it takes down again and is never held again
    operations.release_hash(world.cordon, "pdq", record.value)
    assert outcome(world, "beta", "beta-up", "3.jpg", copies[3])["verdict"]["action"] == "TAKEDOWN"
    again = world.cordon.hashes.get_many([("pdq", record.value)], consistent=True)
    assert again[("pdq", record.value)].status == "active"
    assert again[("pdq", record.value)].flood_cleared


# ---------------------------------------------------------------- the operator's commands


def test_rescan_signals_rejudges_what_was_let_through_without_reading_it_again(
    world: World, poster: bytes, capsys: pytest.CaptureFixture[str]
):
    from cordon_cli.main import main

    world.tenant("alpha", "alpha-up")
    world.tenant("beta", "beta-up")
    earlier = world.upload("alpha-up", "earlier.jpg", poster)
    other = world.upload("beta-up", "other.jpg", samples.jpeg(samples.clean(1)[0]))
    world.settle()
    # A hash shared while nothing listened to the stream (no retro-scan ran)
    world.cordon.hashes.put([HashRecord("sha256", sha256_of(poster), ("x",), source="import")])
    capsys.readouterr()

    assert main(["rescan", "--signals", "--json"]) == 0

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [row["object"] for row in lines if "object" in row] == [earlier.uri]
    assert world.case("alpha", earlier)["status"] == "quarantined"
    assert world.case("beta", other)["status"] == "allowed"


def test_import_private_hashes_and_release_a_held_one(world: World, tmp_path, poster: bytes):
    from cordon_cli.main import main

    world.tenant("alpha", "alpha-up")
    world.tenant("beta", "beta-up")
    listing = tmp_path / "private.csv"
    listing.write_text(f"signal_type,value,labels\nsha256,{sha256_of(poster)},x\n")

    assert main(["hashes", "import", str(listing), "--visibility", "private"]) == 2  # no owner
    assert (
        main(["hashes", "import", str(listing), "--visibility", "private", "--source", "alpha"])
        == 0
    )
    assert outcome(world, "beta", "beta-up", "p.jpg", poster)["verdict"]["action"] == "ALLOW"
    assert outcome(world, "alpha", "alpha-up", "p.jpg", poster)["verdict"]["action"] == "TAKEDOWN"

    assert main(["hashes", "release", "sha256", sha256_of(poster)]) == 2  # not held
    world.cordon.hashes.set_status("sha256", sha256_of(poster), "held", ["active"])
    assert main(["hashes", "release", "sha256", sha256_of(poster)]) == 0
    record = world.cordon.hashes.get_many([("sha256", sha256_of(poster))], consistent=True)
    assert record[("sha256", sha256_of(poster))].flood_cleared
    assert main(["hashes", "retire", "sha256", sha256_of(poster)]) == 0
    assert outcome(world, "alpha", "alpha-up", "q.jpg", poster)["verdict"]["action"] == "ALLOW"


def test_tenant_subscriptions_from_the_shell_see_only_what_the_tenant_may(
    world: World, capsys: pytest.CaptureFixture[str], closed_port_url: str
):
    from cordon_cli.main import main

    # GIVEN beta subscribes a queue to PDQ updates, and a webhook whose endpoint is down
    world.tenant("alpha", "alpha-up")
    world.tenant("beta", "beta-up")
    assert (
        main(["tenants", "subscribe", "beta", "--queue", "beta-pdq", "--signal-type", "pdq"]) == 0
    )
    assert main(["tenants", "webhook", "beta", closed_port_url]) == 0
    secret = json.loads(capsys.readouterr().out.splitlines()[-1])["secret"]
    assert secret.startswith("whsec_")
    runner = stream_runner(world)
    # WHEN alpha shares one private and two public hashes
    world.cordon.hashes.put(
        [
            HashRecord("pdq", "f" * 64, source="alpha", visibility="private"),
            HashRecord("pdq", "e" * 64, source="alpha"),
            HashRecord("md5", "ab" * 16, source="alpha"),
        ]
    )
    runner.poll_once()
    # THEN beta's queue got the public PDQ one only
    url = world.cordon.sqs.get_queue_url(QueueName="beta-pdq")["QueueUrl"]
    assert [u["value"] for u in received(world, url)] == ["e" * 64]
    # and the webhook delivery that kept failing waits in the DLQ with its reason and the
    # two public updates, ready to redrive
    dlq = world.cordon.webhook_dlq.url
    parked = world.cordon.sqs.receive_message(
        QueueUrl=dlq, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(parked) == 1
    body = json.loads(parked[0]["Body"])
    assert body["url"] == closed_port_url
    assert sorted(u["value"] for u in body["payload"]["updates"]) == ["ab" * 16, "e" * 64]
    reason = parked[0]["MessageAttributes"]["cordon-failure-reason"]["StringValue"]
    assert "gave up after 3 attempts" in reason


def test_a_parked_webhook_delivery_is_redriven_by_delivering_it_again(
    world: World, receiver: Receiver
):
    from cordon_cli.main import main

    # GIVEN beta's endpoint fails three times in a row, so the delivery is parked
    world.tenant("beta", "beta-up")
    receiver.secret = world.cordon.tenants.set_webhook("beta", receiver.url).encode()
    receiver.statuses = [500, 500, 500]
    runner = stream_runner(world)
    world.cordon.hashes.put([HashRecord("md5", "ab" * 16, source="alpha")])
    runner.poll_once()
    assert len(receiver.received) == 3
    # WHEN the on-call engineer redrives the webhook DLQ once the endpoint is back
    assert main(["dlq", "redrive", "cordon-webhook-dlq", "--all"]) == 0
    # THEN the same event arrives, verified, and the DLQ is empty
    assert len(receiver.received) == 4
    assert len({r.event_id for r in receiver.received}) == 1 and receiver.received[-1].verified
    dlq = world.cordon.webhook_dlq.url
    assert "Messages" not in world.cordon.sqs.receive_message(QueueUrl=dlq)


def test_an_export_leaks_no_restricted_hash_unless_asked(world: World, tmp_path):
    from cordon_cli.main import main

    world.tenant("alpha", "alpha-up", groups=["eu"])
    world.tenant("beta", "beta-up")
    world.cordon.hashes.put(
        [
            HashRecord("pdq", "e" * 64, source="alpha"),
            HashRecord("pdq", "f" * 64, source="alpha", visibility="private"),
            HashRecord("pdq", "d" * 64, source="alpha", visibility="groups", groups=("eu",)),
        ]
    )
    out = tmp_path / "list.txt"

    def exported(*extra: str) -> list[str]:
        assert main(["hashes", "export", "--format", "te", "--output", str(out), *extra]) == 0
        return sorted(line.split()[1][0] for line in out.read_text().splitlines())

    assert exported() == ["e"]
    assert exported("--tenant", "beta") == ["e"]
    assert exported("--tenant", "alpha") == ["d", "e", "f"]
    assert exported("--include-restricted") == ["d", "e", "f"]


# ------------------------------------------------ stored variants follow their image


def share_with_crops(world: World) -> tuple[str, bytes]:
    """Alpha's confirmed image as a confirmation shares it: its own PDQ, and the crops and
    masked copies stored with it, each naming it; and a copy with 5 % cut off each side,
    which only a stored crop matches."""
    image = samples.known_bad(1)[0]
    own = pdq_of(samples.jpeg(image))
    stored = [
        s for s in signals.shared_variant_signals(samples.jpeg(image), 10**8) if s.value != own
    ]
    world.cordon.hashes.put(
        [
            HashRecord(
                "pdq", own, ("x",), source="alpha", stored_variants=tuple(s.value for s in stored)
            ),
            *(
                HashRecord("pdq", s.value, ("x",), "alpha", variant=s.variant, variant_of=own)
                for s in stored
            ),
        ]
    )
    return own, samples.jpeg(samples.cropped(image, 0.05))


def test_allowing_an_image_allows_the_crops_stored_with_it(world: World):
    # GIVEN a shared image and a cropped copy that only its stored crop matches
    world.tenant("beta", "beta-up")
    own, cropped = share_with_crops(world)
    first = outcome(world, "beta", "beta-up", "a.jpg", cropped)["verdict"]
    assert first["action"] == "REVIEW" and first["matches"][0]["variant_of"] == own
    # (subscribers reading the feed are told which image each stored crop belongs to)
    entries, _ = world.cordon.hashes.feed.read(0, 100)
    assert {e["variant_of"] for e in entries if e["variant"] != "original"} == {own}
    # WHEN beta allow-lists the image's own hash
    status, _ = call(world, "beta", "PUT", f"/hashes/pdq/{own}/allow", {"reason": "archive"})
    assert status == 200
    # THEN the cropped copy is allowed too, and the reason says why
    verdict = outcome(world, "beta", "beta-up", "b.jpg", cropped)["verdict"]
    assert verdict["action"] == "ALLOW"
    assert any("allow-list" in r and "archive" in r for r in verdict["reasons"])


def test_a_dispute_given_on_a_stored_crop_disputes_the_image_and_its_crops(world: World):
    # GIVEN a shared image, with a crop of it that beta's upload matched
    for tenant in ("beta", "gamma"):
        world.tenant(tenant, f"{tenant}-up", pdq_action="TAKEDOWN", variant_action="TAKEDOWN")
    own, cropped = share_with_crops(world)
    crop = outcome(world, "beta", "beta-up", "a.jpg", cropped)["verdict"]["matches"][0]
    assert crop["stored_variant"].startswith("crop-") and crop["status"] == "active"
    # WHEN two tenants dispute the crop's hash, the one their cases name
    for tenant in ("beta", "gamma"):
        path = f"/hashes/pdq/{crop['matched_value']}/opinion"
        status, body = call(world, tenant, "POST", path, {"opinion": "dispute"})
        assert status == 200
    # THEN the image itself is disputed (the answer names it), and a crop's match is too:
    # review, never an automatic takedown, even for a tenant that takes variants down
    assert (body["value"], body["status"]) == (own, "disputed")
    verdict = outcome(world, "gamma", "gamma-up", "b.jpg", cropped)["verdict"]
    assert verdict["matches"][0]["status"] == "disputed"
    assert verdict["action"] == "REVIEW"


def test_a_flood_of_crops_holds_the_image_and_retiring_it_ends_their_matches(world: World):
    from cordon_cli import operations

    # GIVEN a guard of two objects a window, and a shared image with its stored crops
    world.cordon.pipeline.flood_guard = FloodGuard(
        world.cordon.hashes, world.cordon.hashes_table, limit=2, window_seconds=600
    )
    world.tenant("beta", "beta-up")
    own, cropped = share_with_crops(world)
    copies = [samples.jpeg(Image.open(io.BytesIO(cropped)), quality=q) for q in (90, 80, 70)]
    # WHEN three cropped copies match through stored crops
    for n, data in enumerate(copies):
        outcome(world, "beta", "beta-up", f"{n}.jpg", data)
    # THEN the image is held: the flood is counted for the image, not for each crop
    image = world.cordon.hashes.get_many([("pdq", own)], consistent=True)[("pdq", own)]
    assert image.status == "held"
    # WHEN an operator retires the image, its crops stop matching with it
    operations.retire_hash(world.cordon, "pdq", own)
    after = outcome(world, "beta", "beta-up", "late.jpg", cropped)
    assert after["verdict"]["action"] == "ALLOW" and not after["verdict"]["matches"]


def test_retro_scan_reaches_a_tenant_registered_since_the_registry_was_last_read(
    world: World, poster: bytes
):
    # GIVEN a warm stream handler that has just read the tenants (a batch of another hash)
    world.tenant("alpha", "alpha-up")
    runner = stream_runner(world)
    world.cordon.hashes.put([HashRecord("sha256", "0" * 64, source="alpha")])
    runner.poll_once()
    # AND a tenant registered after that read by another process (the operator's CLI),
    # holding the poster from before it was known
    from chalicelib.settings import Settings
    from chalicelib.wiring import Cordon

    add_tenant(Cordon(Settings.from_env()), "beta", ["beta-up"], create_buckets=True)
    held = world.upload("beta-up", "old.jpg", poster)
    world.settle()
    assert world.case("beta", held)["status"] == "allowed"

    # WHEN the poster's hash is shared, within the registry's cache time
    world.cordon.hashes.put([HashRecord("sha256", sha256_of(poster), source="alpha")])
    runner.poll_once()

    # THEN the new tenant's copy is found and taken down
    assert world.case("beta", held)["status"] == "quarantined"
    assert not world.exists("beta-up", "old.jpg")
