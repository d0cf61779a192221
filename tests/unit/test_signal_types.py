"""Signal types own their rules: a type registered here, and nowhere else, is hashed, matched
within its own distance and given its own default action; the registry refuses a type whose
declarations are incomplete; a tenant's distance comes from its policy, else the deployment's
setting (`CORDON_<TYPE>_DISTANCE`), else the type."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import imagehash
import pytest
from PIL import Image

from chalicelib.matching import find_matches
from chalicelib.models import Action, HashRecord, Match, Policy, Signal
from chalicelib.policy import action_for, decide, match_distances
from chalicelib.settings import Settings
from chalicelib.signals import (
    PDQ,
    SIGNAL_TYPES,
    examine_bytes,
    image_hashers,
    indexed_types,
    register,
)
from chalicelib.signals.base import ImageHasher, MatchesHamming, SignalType
from chalicelib.signals.media import DecodedImage
from chalicelib.signals.perceptual import PHash

MAX_PIXELS = 1_000_000


class ToyHash(ImageHasher):
    """A test-only perceptual type: imagehash's 64-bit average hash, matched within 6 bits
    (not PDQ's 31) and taken down (not pHash's REVIEW)."""

    name = "toyhash"
    bits = 64
    max_distance = 6
    default_action = Action.TAKEDOWN

    @classmethod
    def hash_image(cls, decoded: DecodedImage) -> Signal:
        return Signal(cls.name, str(imagehash.average_hash(decoded.image)))

    @classmethod
    def get_examples(cls) -> list[str]:
        return ["ffff000000000000"]


@pytest.fixture
def toy() -> Iterator[type[ToyHash]]:
    register(ToyHash)
    try:
        yield ToyHash
    finally:
        del SIGNAL_TYPES[ToyHash.name]


def png() -> bytes:
    rng = random.Random(4)
    image = Image.new("RGB", (96, 96))
    image.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(96 * 96)])
    image = image.resize((384, 384), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def flip(value: str, count: int, bits: int = 64) -> str:
    mask = sum(1 << i for i in random.Random(count).sample(range(bits), count))
    return f"{int(value, 16) ^ mask:0{bits // 4}x}"


def toy_matches(value: str, shared: str) -> list[Match]:
    """The upload's signals against a table holding one toy hash, through the toy's own index
    and the distances of a tenant with the default policy."""
    records = {("toyhash", shared): HashRecord("toyhash", shared, ("test",), source="t")}
    indexes = {t.name: t.new_index() for t in indexed_types()}
    for name, index in indexes.items():
        if index is not None:
            index.add([v for (t, v) in records if t == name])
    signals = [Signal("toyhash", value), Signal("pdq", "00" * 32, quality=100)]
    return find_matches(
        signals,
        lambda keys: {k: records[k] for k in keys if k in records},
        indexes.get,
        match_distances(Policy()),
    )


# ---------------------------------------------------------------- a new type, one registration


def test_a_registered_type_is_hashed_from_images(toy: type[ToyHash]):
    examination = examine_bytes(png(), MAX_PIXELS)

    signal = examination.signal("toyhash")
    assert toy in image_hashers()
    assert signal is not None and toy.validate(signal.value) == signal.value


def test_a_registered_type_gets_its_own_index(toy: type[ToyHash]):
    assert toy in indexed_types()
    index = toy.new_index()
    assert index is not None and index.bits == 64


@pytest.mark.parametrize("bits", [0, 3, 6])
def test_a_registered_type_matches_within_its_own_distance(toy: type[ToyHash], bits: int):
    value = examine_bytes(png(), MAX_PIXELS).signal("toyhash").value  # type: ignore[union-attr]
    shared = flip(value, bits)

    matches = toy_matches(value, shared)

    assert [(m.signal_type, m.matched_value, m.distance) for m in matches] == [
        ("toyhash", shared, bits)
    ]


@pytest.mark.parametrize("bits", [7, 12, 31])
def test_a_registered_type_does_not_match_beyond_its_distance(toy: type[ToyHash], bits: int):
    # PDQ's 31 bits would reach these: the toy's own 6 decide.
    assert toy_matches("00" * 8, flip("00" * 8, bits)) == []


def test_a_registered_type_gets_its_own_default_action_and_threshold(toy: type[ToyHash]):
    shared = flip("00" * 8, 5)
    examination = examine_bytes(png(), MAX_PIXELS)

    verdict = decide(Policy(), examination, toy_matches("00" * 8, shared))

    # pHash, the other 64-bit image hash, calls for REVIEW; PDQ's threshold is 31.
    assert verdict.action is Action.TAKEDOWN
    assert "toyhash 0000000000000000… is 5 of 64 bits" in verdict.reasons[0]
    assert "(threshold 6)" in verdict.reasons[0]
    assert action_for(Policy(pdq_action=Action.ALLOW, phash_action=Action.ALLOW), toy) is (
        Action.TAKEDOWN
    )


def test_a_registered_type_takes_its_deployment_distance(toy: type[ToyHash]):
    settings = Settings.from_env({"CORDON_TOYHASH_DISTANCE": "2"})

    assert match_distances(Policy(), settings.match_distances)["toyhash"] == 2
    assert match_distances(Policy())["toyhash"] == 6


# ---------------------------------------------------------------- the registry's checks


REVIEW = {"default_action": Action.REVIEW}


@pytest.mark.parametrize(
    ("base", "declared", "message"),
    [
        (ImageHasher, {"name": "noaction", "bits": 64, "max_distance": 4}, "default_action"),
        (MatchesHamming, {"name": "nodistance", "bits": 64, **REVIEW}, "max_distance"),
        (
            MatchesHamming,
            {"name": "unindexed", "bits": 64, "max_distance": 3, "indexed": False, **REVIEW},
            "without an index",
        ),
        (SignalType, {"name": "vague", "bits": 64, **REVIEW}, "compares"),
    ],
)
def test_registry_refuses_a_type_whose_declarations_are_incomplete(
    base: type[SignalType], declared: dict[str, object], message: str
):
    # Never instantiated: its abstract methods may stay abstract.
    incomplete = type("Incomplete", (base,), declared)

    with pytest.raises(TypeError, match=message):
        register(incomplete)
    assert declared["name"] not in SIGNAL_TYPES


def test_registry_refuses_a_second_type_of_the_same_name():
    class Impostor(PHash):
        name = "pdq"

    with pytest.raises(ValueError, match="registered already"):
        register(Impostor)
    assert SIGNAL_TYPES["pdq"] is PDQ


# ---------------------------------------------------------------- distances: policy, deployment


def test_every_registered_type_declares_its_rules():
    for signal_type in SIGNAL_TYPES.values():
        assert isinstance(signal_type.default_action, Action), signal_type.name
        if issubclass(signal_type, MatchesHamming):
            assert signal_type.max_distance >= 0, signal_type.name


def test_built_in_defaults_are_those_the_policy_had():
    # PDQ within 31 bits, pHash on equal values only; exact -> TAKEDOWN, PDQ -> TAKEDOWN,
    # pHash -> REVIEW, as the literals in `models.Policy` said before.
    assert match_distances(Policy()) == {"pdq": 31, "phash": 0}
    assert {name: action_for(Policy(), t) for name, t in SIGNAL_TYPES.items()} == {
        "sha256": Action.TAKEDOWN,
        "md5": Action.TAKEDOWN,
        "pdq": Action.TAKEDOWN,
        "phash": Action.REVIEW,
    }


def test_tenant_actions_override_the_type_defaults():
    rules = Policy(exact_action=Action.REVIEW, pdq_action=Action.REVIEW, phash_action=Action.ALLOW)

    assert {name: action_for(rules, t) for name, t in SIGNAL_TYPES.items()} == {
        "sha256": Action.REVIEW,
        "md5": Action.REVIEW,
        "pdq": Action.REVIEW,
        "phash": Action.ALLOW,
    }


def test_cordon_pdq_distance_is_read():
    assert Settings.from_env({"CORDON_PDQ_DISTANCE": "12"}).match_distances == {"pdq": 12}
    assert Settings.from_env({}).match_distances == {}


def test_a_tenant_without_a_distance_matches_at_the_configured_one():
    configured = Settings.from_env({"CORDON_PDQ_DISTANCE": "12"}).match_distances

    assert match_distances(Policy(), configured)["pdq"] == 12
    # A tenant's own distance wins, whether wider or narrower; 0 is a distance too.
    assert match_distances(Policy(pdq_distance=20), configured)["pdq"] == 20
    assert match_distances(Policy(pdq_distance=0), configured)["pdq"] == 0


def test_a_type_without_an_index_ignores_a_configured_distance():
    # pHash is found by exact lookups only: a distance it cannot honour is not pretended.
    configured = Settings.from_env({"CORDON_PHASH_DISTANCE": "4"}).match_distances

    assert match_distances(Policy(), configured)["phash"] == 0


def test_policies_stored_before_still_load_with_their_values():
    # What `Policy.to_dict` wrote before the defaults moved to the signal types: every field.
    stored = {
        "pdq_distance": 31,
        "exact_action": "TAKEDOWN",
        "pdq_action": "REVIEW",
        "phash_action": "REVIEW",
        "classifier_enabled": False,
        "classifier_min_confidence": 80.0,
        "classifier_action": "REVIEW",
        "unscannable_action": "ALLOW",
        "review_takedowns": False,
        "review_timeout_seconds": 86400,
        "variant_action": "REVIEW",
        "share_visibility": "all",
    }

    rules = Policy.from_dict(stored)

    assert rules.pdq_distance == 31 and rules.pdq_action is Action.REVIEW
    assert match_distances(rules, {"pdq": 12})["pdq"] == 31  # it chose 31 then: it stays
    assert Policy.from_dict(rules.to_dict()) == rules


def test_unset_fields_are_left_out_of_the_stored_policy():
    data = Policy().to_dict()

    assert not {"pdq_distance", "pdq_action", "phash_action", "exact_action"} & set(data)
    assert Policy.from_dict(data) == Policy()
    assert Policy.from_dict({"pdq_distance": None}) == Policy()
