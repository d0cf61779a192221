"""A tenant's policy applied to what was found: pure, no I/O.

`decide` turns an examination, its matches and any classifier scores into a `Verdict` whose
reasons are the statement a reviewer, the uploader and a regulator will read. The strongest
action any reason calls for wins. A match found only through a match variant (the image
mirrored, trimmed, trimmed and mirrored, inverted, a tile of a collage...) calls for at most
`Policy.variant_action` (REVIEW unless the tenant says otherwise), and its reason names the
variant. An image that could not be judged (`unscannable`) is held for review by default;
other bytes are not. A match of a type that only confirms (pHash) calls for no more than the
other matches do, and for nothing alone.

What a match of each signal type calls for, and within what distance a perceptual type
matches, is the type's own declaration (`chalicelib.signals`), which the tenant's policy may
override through the field the type names: nothing here names a type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chalicelib import variants
from chalicelib.models import (
    DISPUTED,
    HELD,
    REVIEW_ONLY_STATUSES,
    Action,
    ClassifierScore,
    Examination,
    Match,
    Policy,
    Verdict,
)
from chalicelib.signals import IMAGE_TYPES, SIGNAL_TYPES, hamming_types
from chalicelib.signals.base import MatchesHamming, SignalType
from chalicelib.variants import ORIGINAL

Distances = Mapping[str, int]  # signal type name -> the Hamming distance it matches within


def match_distances(policy: Policy, deployment: Distances | None = None) -> dict[str, int]:
    """The distance each perceptual type matches within for this tenant: its policy's own
    (the field the type names), else the deployment's (`Settings.match_distances`), else the
    type's default. A type without an index matches on equal values only."""
    deployment = deployment or {}
    distances = {}
    for signal_type in hamming_types():
        field = signal_type.policy_distance
        own = getattr(policy, field) if field else None
        chosen = own if own is not None else deployment.get(signal_type.name)
        chosen = signal_type.max_distance if chosen is None else chosen
        distances[signal_type.name] = chosen if signal_type.indexed else 0
    return distances


def action_for(policy: Policy, signal_type: type[SignalType]) -> Action:
    """What a match of this type calls for: the tenant's choice, else the type's default."""
    field = signal_type.policy_action
    chosen = getattr(policy, field) if field else None
    return chosen if chosen is not None else signal_type.default_action


def describe_match(
    match: Match,
    policy: Policy,
    examination: Examination | None = None,
    distances: Distances | None = None,
) -> str:
    labels = ", ".join(match.labels) or "no labels"
    distances = match_distances(policy) if distances is None else distances
    signal_type = SIGNAL_TYPES[match.signal_type]
    if signal_type.exact or match.distance == 0:
        how = f"{match.signal_type} {match.value[:16]}… equals a shared hash"
    else:
        how = (
            f"{match.signal_type} {match.value[:16]}… is {match.distance} of "
            f"{signal_type.bits} bits from shared hash {match.matched_value[:16]}… "
            f"(threshold {distances[match.signal_type]})"
        )
    if match.variant != ORIGINAL:
        via = f"through the {match.variant} variant ({variants.describe(match.variant)})"
        if examination is not None and not only_through_variant(match, distances, examination):
            how = f"{how}, {via}; the image as uploaded is within the threshold too"
        else:
            how = f"{how}, found only {via}: {policy.variant_action.value} at most"
    if match.stored_variant != ORIGINAL:
        how = (
            f"{how}, a variant stored with the shared image "
            f"({variants.describe(match.stored_variant)}): {policy.variant_action.value} at most"
        )
    if match.status in REVIEW_ONLY_STATUSES:
        how = f"{how}; the shared hash is {STATUS_NOTES[match.status]}: REVIEW at most"
    return f"{how} [{labels}; source {match.source or 'unknown'}]"


STATUS_NOTES = {
    DISPUTED: "disputed by other platforms",
    HELD: "held by the flood guard until an operator clears it",
}


def only_through_variant(match: Match, distances: Distances, examination: Examination) -> bool:
    """Whether no signal of the image as uploaded reaches the shared hash `match` found.

    The matcher reports one match per shared hash, through the nearest signal; the image's own
    signal may reach the same hash a few bits further away, and then the match is the
    image's own.
    """
    if match.variant == ORIGINAL:
        return False
    signal_type = SIGNAL_TYPES[match.signal_type]
    for signal in examination.signals:
        if signal.variant != ORIGINAL or signal.type != match.signal_type:
            continue
        if signal.value == match.matched_value:
            return False
        if (
            issubclass(signal_type, MatchesHamming)
            and signal_type.usable(signal)
            and signal_type.distance(signal.value, match.matched_value)
            <= distances[match.signal_type]
        ):
            return False
    return True


def action_for_match(
    match: Match,
    policy: Policy,
    examination: Examination | None = None,
    distances: Distances | None = None,
) -> Action:
    action = action_for(policy, SIGNAL_TYPES[match.signal_type])
    distances = match_distances(policy) if distances is None else distances
    if match.variant != ORIGINAL and (
        examination is None or only_through_variant(match, distances, examination)
    ):
        action = min(action, policy.variant_action, key=lambda a: a.strength)
    if match.stored_variant != ORIGINAL:
        # The shared hash is a crop or a masked copy of the image, not the image itself.
        action = min(action, policy.variant_action, key=lambda a: a.strength)
    if match.status in REVIEW_ONLY_STATUSES:
        action = min(action, Action.REVIEW, key=lambda a: a.strength)
    return action


def unscannable(policy: Policy, examination: Examination) -> tuple[Action, str]:
    """What an incomplete scan that matched nothing calls for, and why.

    An image type (by its magic bytes) that Cordon could not decode, or drew only in part, is
    still an image a browser draws: it takes `unscannable_action` (REVIEW by default), so it
    cannot pass for unseen. Anything else (a ZIP, a video, unknown bytes over the size cap) had
    its exact hashes checked, which is all Cordon ever checks of it: nothing was missed, and
    it is allowed whatever `unscannable_action` says.
    """
    problems = "; ".join(examination.problems)
    if examination.media_type in IMAGE_TYPES:
        return policy.unscannable_action, (
            f"scan incomplete, so the {examination.media_type} image could not be matched "
            f"as a browser shows it ({policy.unscannable_action.value} for images that "
            f"cannot be judged): {problems}"
        )
    return Action.ALLOW, (
        f"scan incomplete ({problems}); {examination.media_type} is not an image a browser "
        "draws, and its exact hashes, all Cordon checks of it, matched nothing"
    )


def decide(
    policy: Policy,
    examination: Examination,
    matches: Sequence[Match],
    scores: Sequence[ClassifierScore] = (),
    distances: Distances | None = None,
) -> Verdict:
    """The verdict on one object under `policy`; `distances` are those the matches were
    found within (`match_distances`, the tenant's policy and type defaults if not given)."""
    distances = match_distances(policy) if distances is None else distances
    found = [action_for_match(m, policy, examination, distances) for m in matches]
    confirming = [SIGNAL_TYPES[m.signal_type].confirms_only for m in matches]
    # A type that only confirms calls for no more than the matches it confirms.
    confirmed = max(
        (a for a, only in zip(found, confirming, strict=True) if not only),
        default=Action.ALLOW,
        key=lambda a: a.strength,
    )
    action = Action.ALLOW
    reasons: list[str] = []
    for match, wanted, only in zip(matches, found, confirming, strict=True):
        if only:
            wanted = min(wanted, confirmed, key=lambda a: a.strength)
        action = max(action, wanted, key=lambda a: a.strength)
        reason = describe_match(match, policy, examination, distances)
        if only:
            reason = f"{reason}; {match.signal_type} confirms other matches only"
        reasons.append(reason)
    strong_scores = [s for s in scores if s.confidence >= policy.classifier_min_confidence]
    for score in strong_scores:
        action = max(action, policy.classifier_action, key=lambda a: a.strength)
        reasons.append(
            f"classifier {score.classifier} scored {score.label!r} at {score.confidence:.1f} "
            f"(threshold {policy.classifier_min_confidence:.1f})"
        )
    if examination.problems and not reasons:
        action, reason = unscannable(policy, examination)
        reasons.append(reason)
    if not reasons:
        checked = ", ".join(sorted({s.type for s in examination.signals}))
        reasons.append(f"no signal matched the shared hash table (checked {checked})")
    return Verdict(
        action=action,
        reasons=tuple(reasons),
        matches=tuple(matches),
        scores=tuple(scores),
        problems=examination.problems,
        notes=examination.notes,
    )
