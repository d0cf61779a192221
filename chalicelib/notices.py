"""Statements of reasons: what the uploader and a regulator are told of a decision. Pure.

The fields follow the EU Digital Services Act, Art 17(3): the restriction and its scope, the
facts relied on, whether automated means detected and decided, the ground (law or terms of
service), and the redress available. Removal orders under the TCO Regulation (2021/784) call
for the same notice with reasons to the uploader (Art 11).
"""

from __future__ import annotations

from typing import Any

from chalicelib.models import now_iso

LEGAL_GROUND = (
    "Regulation (EU) 2021/784 on addressing the dissemination of terrorist content online "
    "(TCO): content identical or similar to content assessed as terrorist content"
)
REDRESS = (
    "internal complaint: appeal this decision to the platform within six months; a person "
    "who did not take the first decision will review it (DSA Art 20)",
    "out-of-court dispute settlement by a certified body (DSA Art 21)",
    "judicial redress before the courts of the Member State concerned",
)


def _facts(case: dict[str, Any]) -> list[str]:
    verdict = case.get("verdict") or {}
    facts = list(verdict.get("reasons", []))
    for decision in case.get("decisions", []):
        if decision.get("reason"):
            facts.append(f"reviewer ({decision['action']}): {decision['reason']}")
    return facts


def statement_of_reasons(case: dict[str, Any], outcome: str) -> dict[str, Any]:
    """The statement for a case. `outcome`: "removed" (takedown stands) or "restored"."""
    decisions = [d for d in case.get("decisions", []) if d.get("action") in ("confirm", "reject")]
    human = bool(decisions)
    verdict = case.get("verdict") or {}
    labels = sorted(
        {label for m in verdict.get("matches", []) for label in m.get("labels", [])}
        | {label for d in decisions for label in d.get("labels", [])}
    )
    obj = case.get("object", {})
    restriction = (
        {
            "type": "removal",
            "detail": "the upload was removed from public access and kept "
            "as evidence, locked, for at least six months (TCO Art 6)",
        }
        if outcome == "removed"
        else {
            "type": "none",
            "detail": "the upload was restored where it was: the earlier restriction is lifted",
        }
    )
    return {
        "case_id": case["case_id"],
        "tenant_id": case["tenant_id"],
        "content": {"bucket": obj.get("bucket"), "key": obj.get("key")},
        "restriction": {
            **restriction,
            "territorial_scope": "all territories",
            "duration": "indefinite" if outcome == "removed" else None,
        },
        "facts_and_circumstances": _facts(case),
        "labels": labels,
        "automated_detection": True,
        "automated_decision": "partially" if human else "fully",
        "human_review": [
            {"reviewer": d["reviewer"], "action": d["action"], "at": d["at"]} for d in decisions
        ],
        "ground": {
            "type": "illegal content",
            "legal_ground": LEGAL_GROUND,
            "explanation": "; ".join(_facts(case)[:3]),
        },
        "redress": list(REDRESS),
        "issued_at": now_iso(),
    }
