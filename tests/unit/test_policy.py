"""Matching signals against the shared table, and a tenant's policy turning matches into a
verdict. Both are pure: the table is a dict here, the index a real HammingIndex."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest

from chalicelib.index import HammingIndex
from chalicelib.matching import Key, find_matches, usable_signals
from chalicelib.models import (
    Action,
    ClassifierScore,
    Examination,
    HashRecord,
    Match,
    Policy,
    Signal,
    Tenant,
    Verdict,
)
from chalicelib.policy import decide

SHA = "ab" * 32
MD5 = "cd" * 16
PHASH = "d1d1b9c7c6c68a8e"
RNG = random.Random(11)
PDQ = f"{RNG.getrandbits(256):064x}"


def flip(value: str, count: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    mask = sum(1 << i for i in rng.sample(range(256), count))
    return f"{int(value, 16) ^ mask:064x}"


class Table:
    """The shared hash table as a dict; records every lookup it was asked for."""

    def __init__(self, records: Sequence[HashRecord] = ()) -> None:
        self.records = {(r.signal_type, r.value): r for r in records}
        self.asked: list[Key] = []

    def lookup(self, keys: Sequence[Key]) -> Mapping[Key, HashRecord]:
        self.asked.extend(keys)
        return {k: self.records[k] for k in keys if k in self.records}

    def index(self) -> HammingIndex:
        index = HammingIndex(256)
        index.add(v for (t, v) in self.records if t == "pdq")
        return index


def signals(pdq: str = PDQ, quality: int = 90) -> list[Signal]:
    return [
        Signal("sha256", SHA),
        Signal("md5", MD5),
        Signal("pdq", pdq, quality=quality),
        Signal("phash", PHASH),
    ]


def match(
    table: Table, found: Sequence[Signal], distance: int = 31, visible_to: Tenant | None = None
) -> list[Match]:
    visible = (lambda r: r.visible_to(visible_to)) if visible_to else None
    return find_matches(found, table.lookup, {"pdq": table.index()}.get, {"pdq": distance}, visible)


# ---------------------------------------------------------------- matching


def test_exact_sha256_match_has_distance_zero():
    table = Table([HashRecord("sha256", SHA, ("csam",), source="ncmec")])

    matches = match(table, signals())

    assert matches == [
        Match("sha256", SHA, SHA, 0, labels=("csam",), source="ncmec", variant="original")
    ]


def test_no_record_no_match():
    table = Table([HashRecord("sha256", "00" * 32)])

    assert match(table, signals()) == []


@pytest.mark.parametrize("bits", [1, 10, 31])
def test_pdq_near_match_within_distance_carries_its_distance(bits: int):
    shared = flip(PDQ, bits, seed=bits)
    table = Table([HashRecord("pdq", shared, ("terror",), source="gifct")])

    matches = match(table, signals(), distance=31)

    assert matches == [Match("pdq", PDQ, shared, bits, labels=("terror",), source="gifct")]


@pytest.mark.parametrize(("bits", "threshold"), [(32, 31), (11, 10), (1, 0)])
def test_pdq_beyond_distance_is_no_match(bits: int, threshold: int):
    table = Table([HashRecord("pdq", flip(PDQ, bits, seed=bits))])

    assert match(table, signals(), distance=threshold) == []


def test_pdq_exact_value_matches_at_distance_zero():
    table = Table([HashRecord("pdq", PDQ)])

    assert [(m.signal_type, m.distance) for m in match(table, signals())] == [("pdq", 0)]


def test_pdq_exact_value_matches_even_without_an_index():
    table = Table([HashRecord("pdq", PDQ)])

    matches = find_matches(signals(), table.lookup, lambda signal_type: None, {"pdq": 31})

    assert [(m.signal_type, m.distance) for m in matches] == [("pdq", 0)]


@pytest.mark.parametrize("quality", [0, 49])
def test_low_quality_pdq_is_never_matched(quality: int):
    # GIVEN the table holds the very PDQ value, and a near one
    table = Table([HashRecord("pdq", PDQ), HashRecord("pdq", flip(PDQ, 3))])

    matches = match(table, signals(quality=quality))

    assert matches == []
    assert all(t != "pdq" for t, _ in table.asked)


def test_a_phash_is_matched_only_beside_a_match_of_another_type():
    # GIVEN the upload's pHash shared, alone
    alone = Table([HashRecord("phash", PHASH)])
    # THEN it is no match: pHash only confirms
    assert match(alone, signals()) == []
    # and beside a match of another type it is reported with it
    both = Table([HashRecord("phash", PHASH), HashRecord("md5", MD5)])
    assert [m.signal_type for m in match(both, signals())] == ["md5", "phash"]


def test_pdq_of_quality_50_is_matched():
    table = Table([HashRecord("pdq", PDQ)])

    assert len(match(table, signals(quality=50))) == 1


def test_usable_signals_drops_only_low_quality_pdq():
    found = signals(quality=10)

    assert [s.type for s in usable_signals(found)] == ["sha256", "md5", "phash"]


@pytest.mark.parametrize("status", ["retired", ""])
def test_retired_records_and_unknown_statuses_are_ignored(status: str):
    table = Table(
        [
            HashRecord("sha256", SHA, status=status),
            HashRecord("pdq", flip(PDQ, 4), status=status),
            HashRecord("phash", PHASH, status=status),
        ]
    )

    assert match(table, signals()) == []


@pytest.mark.parametrize("status", ["disputed", "held"])
def test_disputed_and_held_hashes_match_for_review_only(status: str):
    table = Table([HashRecord("sha256", SHA, ("x",), status=status)])
    found = match(table, signals())
    verdict = decide(Policy(), examined(), found)

    assert [m.status for m in found] == [status]
    assert verdict.action is Action.REVIEW
    assert "REVIEW at most" in verdict.reasons[0] and status in verdict.reasons[0]


def test_hashes_not_visible_to_the_tenant_do_not_match():
    alpha, beta = Tenant("alpha", groups=("eu",)), Tenant("beta")
    table = Table(
        [
            HashRecord("sha256", SHA, source="alpha", visibility="private"),
            HashRecord("md5", MD5, source="gamma", visibility="groups", groups=("eu",)),
        ]
    )

    assert {m.signal_type for m in match(table, signals(), visible_to=alpha)} == {"sha256", "md5"}
    assert match(table, signals(), visible_to=beta) == []


def test_active_records_survive_beside_retired_ones():
    table = Table(
        [
            HashRecord("sha256", SHA, status="retired"),
            HashRecord("md5", MD5, ("a",)),
        ]
    )

    assert [m.signal_type for m in match(table, signals())] == ["md5"]


def test_matches_sorted_exact_first_then_nearest():
    near, nearer = flip(PDQ, 20, seed=1), flip(PDQ, 3, seed=2)
    table = Table(
        [
            HashRecord("pdq", near),
            HashRecord("pdq", nearer),
            HashRecord("phash", PHASH),
            HashRecord("sha256", SHA),
        ]
    )

    matches = match(table, signals())

    # exact types first, then perceptual ones nearest first
    assert [(m.signal_type, m.distance) for m in matches] == [
        ("sha256", 0),
        ("phash", 0),
        ("pdq", 3),
        ("pdq", 20),
    ]


def test_record_reached_by_two_pdq_variants_reports_the_nearest():
    # GIVEN one shared hash, 3 bits from the original's PDQ and 25 from a variant's
    shared = flip(PDQ, 3, seed=1)
    table = Table([HashRecord("pdq", shared)])
    found = [
        Signal("pdq", PDQ, quality=90),
        Signal("pdq", flip(shared, 25, seed=2), quality=90, variant="mirrored"),
    ]

    matches = match(table, found)

    assert [(m.distance, m.variant) for m in matches] == [(3, "original")]


def test_variant_is_carried_into_the_match():
    table = Table([HashRecord("pdq", PDQ)])
    found = [Signal("pdq", PDQ, quality=90, variant="rotated-90")]

    assert match(table, found)[0].variant == "rotated-90"


# ---------------------------------------------------------------- policy


def examined(*, problems: tuple[str, ...] = (), notes: tuple[str, ...] = ()) -> Examination:
    return Examination("image/jpeg", 1234, tuple(signals()), problems, notes)


def exact(labels: tuple[str, ...] = ("csam",)) -> Match:
    return Match("sha256", SHA, SHA, 0, labels=labels, source="ncmec")


def pdq(distance: int = 12, labels: tuple[str, ...] = ("terror",)) -> Match:
    return Match("pdq", PDQ, flip(PDQ, distance), distance, labels=labels, source="gifct")


def phash() -> Match:
    return Match("phash", PHASH, PHASH, 0, labels=("spam",), source="tenant")


def score(confidence: float) -> ClassifierScore:
    return ClassifierScore("rekognition", "Explicit Nudity", confidence, "nudity")


def test_exact_match_is_takedown_by_default():
    verdict = decide(Policy(), examined(), [exact()])

    assert verdict.action is Action.TAKEDOWN
    assert len(verdict.reasons) == 1
    assert "sha256" in verdict.reasons[0] and "csam" in verdict.reasons[0]
    assert "ncmec" in verdict.reasons[0]


def test_exact_action_follows_policy():
    assert decide(Policy(exact_action=Action.REVIEW), examined(), [exact()]).action is Action.REVIEW


def test_pdq_match_is_takedown_by_default_and_review_when_set():
    assert decide(Policy(), examined(), [pdq()]).action is Action.TAKEDOWN
    review = Policy(pdq_action=Action.REVIEW)
    assert decide(review, examined(), [pdq()]).action is Action.REVIEW


def test_pdq_reason_names_signal_distance_threshold_and_labels():
    verdict = decide(Policy(pdq_distance=20), examined(), [pdq(12, ("terror", "isis"))])

    (reason,) = verdict.reasons
    assert "pdq" in reason
    assert "12 of 256 bits" in reason
    assert "threshold 20" in reason
    assert "terror, isis" in reason
    assert "gifct" in reason


def test_a_phash_match_alone_decides_nothing():
    # pHash only confirms: unrelated flat pictures share theirs (every blank canvas has one).
    verdict = decide(Policy(phash_action=Action.TAKEDOWN), examined(), [phash()])

    assert verdict.action is Action.ALLOW
    assert "phash" in verdict.reasons[0] and "spam" in verdict.reasons[0]
    assert "confirms other matches only" in verdict.reasons[0]


def test_a_phash_match_confirms_another_match_but_never_goes_beyond_it():
    # GIVEN a tenant whose pHash matches call for TAKEDOWN and PDQ matches for REVIEW
    rules = Policy(pdq_action=Action.REVIEW, phash_action=Action.TAKEDOWN)
    # WHEN both match
    verdict = decide(rules, examined(), [pdq(), phash()])
    # THEN the pHash match is a reason beside the PDQ one, and the verdict is PDQ's
    assert verdict.action is Action.REVIEW
    assert len(verdict.reasons) == 2 and "confirms" in verdict.reasons[1]


def test_match_without_labels_or_source_says_so():
    verdict = decide(Policy(), examined(), [Match("md5", MD5, MD5, 0)])

    assert "no labels" in verdict.reasons[0] and "source unknown" in verdict.reasons[0]


@pytest.mark.parametrize("confidence", [80.0, 99.9])
def test_classifier_at_or_above_threshold_is_review(confidence: float):
    verdict = decide(Policy(classifier_enabled=True), examined(), [], [score(confidence)])

    assert verdict.action is Action.REVIEW  # never TAKEDOWN by default
    (reason,) = verdict.reasons
    assert "rekognition" in reason and "Explicit Nudity" in reason
    assert f"{confidence:.1f}" in reason and "threshold 80.0" in reason


def test_classifier_below_threshold_is_ignored():
    verdict = decide(Policy(classifier_enabled=True), examined(), [], [score(79.9)])

    assert verdict.action is Action.ALLOW
    assert "rekognition" not in " ".join(verdict.reasons)
    assert verdict.scores == (score(79.9),)  # kept for the record


def test_classifier_threshold_and_action_follow_policy():
    rules = Policy(
        classifier_enabled=True, classifier_min_confidence=95.0, classifier_action=Action.TAKEDOWN
    )

    assert decide(rules, examined(), [], [score(94.0)]).action is Action.ALLOW
    assert decide(rules, examined(), [], [score(96.0)]).action is Action.TAKEDOWN


def test_no_match_is_allow_listing_checked_signal_types():
    verdict = decide(Policy(), examined(), [])

    assert verdict.action is Action.ALLOW
    assert verdict.reasons == (
        "no signal matched the shared hash table (checked md5, pdq, phash, sha256)",
    )
    assert verdict.matches == ()


@pytest.mark.parametrize("unscannable", list(Action))
def test_problem_without_match_takes_unscannable_action(unscannable: Action):
    problem = "corrupt or truncated image: image file is truncated; perceptual hashes skipped"

    verdict = decide(Policy(unscannable_action=unscannable), examined(problems=(problem,)), [])

    assert verdict.action is unscannable
    (reason,) = verdict.reasons
    assert problem in reason and "scan incomplete" in reason
    assert verdict.problems == (problem,)


def test_image_that_cannot_be_judged_is_held_for_review_by_default():
    problem = "image/png: corrupt or truncated image, nothing could be drawn: broken"

    verdict = decide(Policy(), examined(problems=(problem,)), [])

    assert Policy().unscannable_action is Action.REVIEW
    assert verdict.action is Action.REVIEW
    assert "image/jpeg image could not be matched" in verdict.reasons[0]
    assert problem in verdict.reasons[0]


@pytest.mark.parametrize("unscannable", list(Action))
def test_non_image_over_the_size_cap_is_allowed_whatever_the_unscannable_action(
    unscannable: Action,
):
    # GIVEN a video over the in-memory cap: exact hashes streamed, the only ones Cordon takes
    reason = "object of 3 GB exceeds the 50 MB in-memory cap: exact hashes only"
    examination = Examination("video/mp4", 3 * 10**9, tuple(signals()[:2]), (reason,))

    verdict = decide(Policy(unscannable_action=unscannable), examination, [])

    assert verdict.action is Action.ALLOW
    assert "not an image a browser draws" in verdict.reasons[0]
    assert verdict.problems == (reason,)


def test_problem_with_a_match_follows_the_match():
    verdict = decide(
        Policy(unscannable_action=Action.REVIEW), examined(problems=("too big",)), [exact()]
    )

    assert verdict.action is Action.TAKEDOWN
    assert not any("scan incomplete" in r for r in verdict.reasons)
    assert verdict.problems == ("too big",)


def test_strongest_action_wins_whatever_the_order():
    rules = Policy(pdq_action=Action.REVIEW, classifier_enabled=True)
    for matches in ([phash(), pdq(), exact()], [exact(), pdq(), phash()]):
        verdict = decide(rules, examined(), matches, [score(90.0)])

        assert verdict.action is Action.TAKEDOWN
        assert len(verdict.reasons) == 4  # every match and the score give a reason


def test_weaker_actions_do_not_downgrade():
    rules = Policy(exact_action=Action.REVIEW, phash_action=Action.ALLOW)

    assert decide(rules, examined(), [exact(), phash()]).action is Action.REVIEW
    assert decide(rules, examined(), [phash(), exact()]).action is Action.REVIEW


def test_verdict_carries_notes_and_round_trips():
    verdict = decide(
        Policy(),
        examined(notes=("animated image: first of 3 frames hashed",)),
        [exact(), pdq()],
        [score(10.0)],
    )

    assert verdict.notes == ("animated image: first of 3 frames hashed",)
    assert Verdict.from_dict(verdict.to_dict()) == verdict


def test_action_strength_order():
    assert [a.strength for a in (Action.ALLOW, Action.REVIEW, Action.TAKEDOWN)] == [0, 1, 2]


# ---------------------------------------------------------------- Policy as data


def test_policy_round_trips_through_dict():
    rules = Policy(
        pdq_distance=20,
        pdq_action=Action.REVIEW,
        classifier_enabled=True,
        classifier_min_confidence=91.5,
        unscannable_action=Action.REVIEW,
    )

    data = rules.to_dict()

    assert data["pdq_action"] == "REVIEW" and isinstance(data["pdq_action"], str)
    assert Policy.from_dict(data) == rules


def test_policy_from_dict_with_strings():
    rules = Policy.from_dict(
        {
            "pdq_action": "review",
            "exact_action": "Takedown",
            "classifier_enabled": "true",
            "pdq_distance": "20",
            "classifier_min_confidence": "85.5",
        }
    )

    assert rules == Policy(
        pdq_action=Action.REVIEW,
        exact_action=Action.TAKEDOWN,
        classifier_enabled=True,
        pdq_distance=20,
        classifier_min_confidence=85.5,
    )
    assert type(rules.pdq_distance) is int
    assert type(rules.classifier_min_confidence) is float


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        (True, True),
        ("false", False),
        ("0", False),
        (False, False),
    ],
)
def test_policy_from_dict_booleans(raw: object, expected: bool):
    assert Policy.from_dict({"classifier_enabled": raw}).classifier_enabled is expected


def test_policy_from_dict_with_dynamodb_decimals():
    rules = Policy.from_dict(
        {"pdq_distance": Decimal("25"), "classifier_min_confidence": Decimal("90.5")}
    )

    assert rules.pdq_distance == 25 and type(rules.pdq_distance) is int
    assert rules.classifier_min_confidence == 90.5


def test_policy_from_dict_defaults_and_ignores_unknown_keys():
    assert Policy.from_dict(None) == Policy()
    assert Policy.from_dict({}) == Policy()
    assert Policy.from_dict({"colour": "blue"}) == Policy()


def test_policy_from_dict_rejects_unknown_action():
    with pytest.raises(ValueError):
        Policy.from_dict({"pdq_action": "delete"})


def test_policy_booleans_accept_common_spellings_and_refuse_nonsense():
    assert Policy.from_dict({"classifier_enabled": "yes"}).classifier_enabled is True
    assert Policy.from_dict({"classifier_enabled": "TRUE"}).classifier_enabled is True
    assert Policy.from_dict({"classifier_enabled": "off"}).classifier_enabled is False
    with pytest.raises(ValueError, match="true or false"):
        Policy.from_dict({"classifier_enabled": "maybe"})


def test_a_match_with_a_stored_variant_of_a_shared_image_is_at_most_review():
    table = Table([HashRecord("pdq", PDQ, ("x",), variant="crop-5")])
    found = match(table, signals())
    verdict = decide(Policy(), examined(), found)

    assert [m.stored_variant for m in found] == ["crop-5"]
    assert verdict.action is Action.REVIEW
    assert "centre crop" in verdict.reasons[0]


@pytest.mark.parametrize(
    ("image_status", "expected"),
    [("active", ["active"]), ("disputed", ["disputed"]), ("held", ["held"]), ("retired", [])],
)
def test_a_stored_variant_goes_by_its_images_status(image_status: str, expected: list[str]):
    # GIVEN a stored crop of an image whose own hash is far from the upload's
    image = f"{RNG.getrandbits(256):064x}"
    table = Table(
        [
            HashRecord("pdq", image, ("x",), status=image_status, stored_variants=(PDQ,)),
            HashRecord("pdq", PDQ, ("x",), variant="crop-5", variant_of=image),
        ]
    )
    # WHEN an upload matches the crop only
    found = match(table, signals())
    # THEN the match carries the image's status (a retired image takes its crops with it),
    # and names the image it stands for
    assert [m.status for m in found] == expected
    assert all(m.image_key == ("pdq", image) for m in found)


def test_a_stored_variant_whose_image_is_gone_stands_alone():
    table = Table([HashRecord("pdq", PDQ, ("x",), variant="crop-5", variant_of="ab" * 32)])
    found = match(table, signals())
    assert [(m.status, m.variant_of) for m in found] == [("active", "ab" * 32)]
