"""Signal types end to end, against moto: a type registered in a test alone is hashed, indexed
by the hash table and judged by its own rules; `CORDON_PDQ_DISTANCE` sets the distance of
tenants whose policy sets none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib import signals
from chalicelib.models import Action, HashRecord
from chalicelib.policy import match_distances
from cordon_cli import samples
from cordon_cli.main import main
from tests.conftest import World
from tests.unit.test_signal_types import ToyHash, flip

BAD_JPEG = samples.jpeg(samples.known_bad(1)[0])


def signal_of(data: bytes, signal_type: str) -> str:
    signal = signals.examine_bytes(data, 10**8).signal(signal_type)
    assert signal is not None
    return signal.value


@pytest.fixture
def toy() -> Iterator[type[ToyHash]]:
    signals.register(ToyHash)
    try:
        yield ToyHash
    finally:
        del signals.SIGNAL_TYPES[ToyHash.name]


@pytest.fixture
def pdq_distance_10(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployment's PDQ distance, set before `world` reads the environment."""
    monkeypatch.setenv("CORDON_PDQ_DISTANCE", "10")


@pytest.mark.parametrize(("bits", "status"), [(4, "quarantined"), (8, "allowed")])
def test_registered_type_is_matched_by_its_own_rules_in_the_pipeline(
    toy: type[ToyHash], world: World, bits: int, status: str
):
    # GIVEN only a toy hash shared, `bits` from the upload's; tenants whose policy sets every
    # action it has (none of which is the toy's)
    world.tenant("alpha", "alpha-uploads", pdq_action="REVIEW", phash_action="REVIEW")
    world.share("toyhash", flip(signal_of(BAD_JPEG, "toyhash"), bits))
    # WHEN the image is uploaded
    ref = world.upload("alpha-uploads", "toy.jpg", BAD_JPEG)
    world.drain()
    # THEN within the toy's 6 bits it is taken down, by the toy's own action; beyond, allowed
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == status
    assert any(s["type"] == "toyhash" for s in case["signals"])
    if status == "quarantined":
        assert case["verdict"]["action"] == "TAKEDOWN"
        assert [m["signal_type"] for m in case["verdict"]["matches"]] == ["toyhash"]
        assert "(threshold 6)" in case["verdict"]["reasons"][0]
        assert not world.exists("alpha-uploads", "toy.jpg")
    else:
        assert world.exists("alpha-uploads", "toy.jpg")
    # The hash table keeps an index for the new type as it does for PDQ.
    assert world.cordon.hashes.index("toyhash") is not None


def test_a_tenant_without_a_distance_matches_at_cordon_pdq_distance(
    pdq_distance_10: None, world: World
):
    # GIVEN CORDON_PDQ_DISTANCE=10, a tenant without a distance of its own, one with 31
    assert world.cordon.settings.match_distances == {"pdq": 10}
    world.tenant("alpha", "alpha-uploads")
    world.tenant("beta", "beta-uploads", pdq_distance=31)
    own = signal_of(BAD_JPEG, "pdq")
    world.cordon.hashes.put(
        [
            HashRecord("pdq", flip(own, 20, bits=256), ("far",), source="test"),
            HashRecord("pdq", flip(own, 9, bits=256), ("near",), source="test"),
        ]
    )
    # WHEN both upload the image
    alpha = world.upload("alpha-uploads", "a.jpg", BAD_JPEG)
    beta = world.upload("beta-uploads", "b.jpg", BAD_JPEG)
    world.drain()
    # THEN alpha matches within 10 bits only (the near hash), beta within its own 31 (both)
    alpha_case, beta_case = world.case("alpha", alpha), world.case("beta", beta)
    assert alpha_case is not None and beta_case is not None
    assert [m["labels"] for m in alpha_case["verdict"]["matches"]] == [["near"]]
    assert "(threshold 10)" in alpha_case["verdict"]["reasons"][0]
    assert sorted(m["labels"][0] for m in beta_case["verdict"]["matches"]) == ["far", "near"]
    assert "(threshold 31)" in beta_case["verdict"]["reasons"][0]


def test_a_tenant_without_a_distance_allows_what_only_the_default_31_would_reach(
    pdq_distance_10: None, world: World
):
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", flip(signal_of(BAD_JPEG, "pdq"), 20, bits=256))

    ref = world.upload("alpha-uploads", "a.jpg", BAD_JPEG)
    world.drain()

    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "allowed"
    assert world.exists("alpha-uploads", "a.jpg")


def test_cli_tenant_without_distance_follows_the_deployment(world: World):
    # GIVEN two tenants added by the CLI, one with its own PDQ distance and action
    assert main(["tenants", "add", "plain", "--bucket", "plain-up", "--create-bucket"]) == 0
    own = ["--pdq-distance", "20", "--pdq-action", "REVIEW"]
    assert main(["tenants", "add", "own", "--bucket", "own-up", "--create-bucket", *own]) == 0
    # THEN the first stores neither (CORDON_PDQ_DISTANCE and PDQ's action decide), the second
    # both
    plain, chosen = world.cordon.tenants.get("plain"), world.cordon.tenants.get("own")
    assert plain is not None and chosen is not None
    assert plain.policy.pdq_distance is None and plain.policy.pdq_action is None
    assert match_distances(plain.policy, {"pdq": 10})["pdq"] == 10
    assert chosen.policy.pdq_distance == 20 and chosen.policy.pdq_action is Action.REVIEW
    assert match_distances(chosen.policy, {"pdq": 10})["pdq"] == 20
