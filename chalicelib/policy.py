"""A tenant's policy applied to what was found: pure, no I/O.

`decide` turns an examination, its matches and any classifier scores into a `Verdict` whose
reasons are the statement a reviewer, the uploader and a regulator will read. The strongest
action any reason calls for wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.models import Action, ClassifierScore, Examination, Match, Policy, Verdict
from chalicelib.signals import SIGNAL_TYPES


def describe_match(match: Match, policy: Policy) -> str:
    labels = ", ".join(match.labels) or "no labels"
    if SIGNAL_TYPES[match.signal_type].exact or match.distance == 0:
        how = f"{match.signal_type} {match.value[:16]}… equals a shared hash"
    else:
        bits = SIGNAL_TYPES[match.signal_type].bits
        how = (
            f"{match.signal_type} {match.value[:16]}… is {match.distance} of {bits} bits from "
            f"shared hash {match.matched_value[:16]}… (threshold {policy.pdq_distance})"
        )
    return f"{how} [{labels}; source {match.source or 'unknown'}]"


def action_for_match(match: Match, policy: Policy) -> Action:
    signal_type = SIGNAL_TYPES[match.signal_type]
    if signal_type.exact:
        return policy.exact_action
    if match.signal_type == "pdq":
        return policy.pdq_action
    return policy.phash_action


def decide(
    policy: Policy,
    examination: Examination,
    matches: Sequence[Match],
    scores: Sequence[ClassifierScore] = (),
) -> Verdict:
    """The verdict on one object under `policy`."""
    action = Action.ALLOW
    reasons: list[str] = []
    for match in matches:
        action = max(action, action_for_match(match, policy), key=lambda a: a.strength)
        reasons.append(describe_match(match, policy))
    strong_scores = [s for s in scores if s.confidence >= policy.classifier_min_confidence]
    for score in strong_scores:
        action = max(action, policy.classifier_action, key=lambda a: a.strength)
        reasons.append(
            f"classifier {score.classifier} scored {score.label!r} at {score.confidence:.1f} "
            f"(threshold {policy.classifier_min_confidence:.1f})"
        )
    if examination.problems and not reasons:
        action = policy.unscannable_action
        reasons.append(
            "scan incomplete, so no perceptual match was possible: "
            + "; ".join(examination.problems)
        )
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
