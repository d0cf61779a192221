"""Plain data shared by every part of Cordon: no boto3, no I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, get_args, get_type_hints


def now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds: sortable as text."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Action(StrEnum):
    """What happens to an object. Ordered: a stronger action wins when reasons disagree."""

    ALLOW = "ALLOW"
    REVIEW = "REVIEW"
    TAKEDOWN = "TAKEDOWN"

    @property
    def strength(self) -> int:
        return list(Action).index(self)


class Outcome(StrEnum):
    """Where one event left its object."""

    ALLOWED = "allowed"
    QUARANTINED = "quarantined"
    ALREADY_HANDLED = "already_handled"
    GONE = "gone"  # deleted before Cordon got to it
    NO_TENANT = "no_tenant"  # the bucket belongs to no tenant
    IGNORED = "ignored"  # test events, deletes


@dataclass(frozen=True)
class ObjectRef:
    """One version of one object in a tenant's bucket, as an event named it."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    event_time: str | None = None
    envelope: str = "s3"
    # S3's per-key order of events (S3 notifications and EventBridge): it grows with each PUT.
    sequencer: str | None = None
    # The bytes' SHA-256, only when the key held other bytes under the ETag of an earlier
    # case (an MD5 collision, which an uploader can craft): they get a case of their own.
    content: str | None = None

    def __post_init__(self) -> None:
        # S3 writes "null" for objects of unversioned buckets: it names no version.
        if self.version_id in ("", "null"):
            object.__setattr__(self, "version_id", None)
        if self.etag:
            object.__setattr__(self, "etag", self.etag.strip('"'))

    @property
    def identity(self) -> str:
        """The stored object this names, and so its case: version id, else ETag. The same
        bytes uploaded again to a key of an unversioned bucket have the same identity: the
        case lifecycle tells that upload apart by the object's presence (`lifecycle`)."""
        if self.version_id:
            return self.version_id
        return f"{self.etag or ''}#{self.content[:32]}" if self.content else self.etag or ""

    def holding(self, sha256: str) -> ObjectRef:
        """This object named by its bytes too: what it is once its ETag names another case."""
        return replace(self, content=sha256)

    @property
    def delivery_id(self) -> str:
        """What tells this upload from another PUT of the same key, and is the same in every
        delivery of its notification: the version id; else S3's sequencer, ETag and event
        time together (a new PUT changes the sequencer on AWS, and the time everywhere: moto
        sends no sequencer in S3 notifications, and one constant one in EventBridge events).
        A replay by key has only the ETag (or what HEAD read)."""
        if self.version_id:
            return self.version_id
        return "|".join(str(part) for part in (self.sequencer, self.etag, self.event_time) if part)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def case_id(self, tenant_id: str) -> str:
        """Deterministic, so every retry and replay of one object version finds one case."""
        raw = "\x1f".join((tenant_id, self.bucket, self.key, self.identity))
        return "case-" + hashlib.sha256(raw.encode()).hexdigest()[:24]

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectRef:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Signal:
    """One hash of an object: exact (sha256, md5) or perceptual (pdq, phash)."""

    type: str
    value: str
    quality: int | None = None
    variant: str = "original"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signal:
        """A signal as `to_dict` stored it (on a case)."""
        return cls(
            data["type"], data["value"], data.get("quality"), data.get("variant", "original")
        )


@dataclass(frozen=True)
class Examination:
    """Everything read off an object's bytes.

    `problems` say what could not be scanned and why (the scan is incomplete); `notes` say
    what is worth knowing but left the scan complete.
    """

    media_type: str
    size: int
    signals: tuple[Signal, ...]
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    image_bytes: bytes | None = field(default=None, repr=False, compare=False)

    def signal(self, signal_type: str) -> Signal | None:
        return next((s for s in self.signals if s.type == signal_type), None)


@dataclass(frozen=True)
class HashRecord:
    """An entry of the shared hash table, with its provenance."""

    signal_type: str
    value: str
    labels: tuple[str, ...] = ()
    source: str = "import"
    case_id: str | None = None
    added_at: str | None = None
    status: str = "active"
    confirmed_by: str | None = None  # the reviewer whose decision shared it
    # Who may see and match it (`Visibility`); `groups` are the named tenant groups for
    # GROUPS. The source tenant always sees its own hashes.
    visibility: str = "all"
    groups: tuple[str, ...] = ()
    # Tenants' opinions, and whether an operator cleared it after the flood guard held it.
    disputes: tuple[str, ...] = ()
    endorsements: tuple[str, ...] = ()
    flood_cleared: bool = False
    # A copy of the confirmed image stored beside its own hash (`crop-5`, `masked-top`...):
    # what matches only it is a variant match (REVIEW by default), never the image itself.
    variant: str = "original"
    # On the image's own PDQ hash: the values of the variants stored with it, which follow
    # it when it is retired.
    stored_variants: tuple[str, ...] = ()
    # On a stored variant: the value of its image's own hash (same type), whose status,
    # allow-listing and flood count it shares (see `follow_image`).
    variant_of: str | None = None

    @property
    def image_key(self) -> tuple[str, str]:
        """The key of the image this hash stands for: its own, or its image's if a variant."""
        return (self.signal_type, self.variant_of or self.value)

    def visible_to(self, tenant: Tenant) -> bool:
        return audience_admits(self.visibility, self.groups, self.source, tenant)


class Visibility(StrEnum):
    """Who a shared hash is shared with, like ThreatExchange's privacy groups."""

    ALL = "all"  # every tenant
    GROUPS = "groups"  # tenants in one of the hash's named groups
    PRIVATE = "private"  # its source tenant alone


# A hash's status: ACTIVE matches under each tenant's policy; DISPUTED (by enough tenants) and
# HELD (by the flood guard, until an operator clears it) still match, for REVIEW only;
# RETIRED no longer matches.
ACTIVE, DISPUTED, HELD, RETIRED = "active", "disputed", "held", "retired"
REVIEW_ONLY_STATUSES = frozenset({DISPUTED, HELD})


def audience_admits(visibility: str, groups: Sequence[str], source: str, tenant: Tenant) -> bool:
    """Whether `tenant` may see a hash shared with this audience (match, feed, webhook, SNS)."""
    if tenant.tenant_id == source or visibility == Visibility.ALL:
        return True
    if visibility == Visibility.GROUPS:
        return bool(set(groups) & set(tenant.groups))
    return False


def audience_tags(visibility: str, groups: Sequence[str], source: str) -> list[str]:
    """The audience as SNS filterable tags: `all`, or `group:<name>`s plus `tenant:<source>`."""
    if visibility == Visibility.ALL:
        return ["all"]
    tags = [f"group:{g}" for g in groups] if visibility == Visibility.GROUPS else []
    return [*tags, f"tenant:{source}"]


def tenant_tags(tenant: Tenant) -> list[str]:
    """The audience tags a tenant's subscription accepts: `all`, its groups, itself."""
    return ["all", *(f"group:{g}" for g in tenant.groups), f"tenant:{tenant.tenant_id}"]


@dataclass(frozen=True)
class Match:
    """A signal of the object that found an entry of the shared hash table."""

    signal_type: str
    value: str
    matched_value: str
    distance: int
    labels: tuple[str, ...] = ()
    source: str = ""
    variant: str = "original"
    status: str = ACTIVE  # the shared hash's: DISPUTED and HELD call for REVIEW at most
    stored_variant: str = "original"  # the shared hash is this stored copy of its image
    variant_of: str | None = None  # ... of the image whose own hash is this value

    @property
    def image_key(self) -> tuple[str, str]:
        """The shared image this match found: the matched hash's, or its image's if a variant
        stored with it (allow-lists and the flood guard go by the image)."""
        return (self.signal_type, self.variant_of or self.matched_value)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data


@dataclass(frozen=True)
class ClassifierScore:
    """A classifier's opinion of content that no hash matched."""

    classifier: str
    label: str
    confidence: float
    category: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """The decision on one object and the reasons a reviewer or a regulator will read."""

    action: Action
    reasons: tuple[str, ...]
    matches: tuple[Match, ...] = ()
    scores: tuple[ClassifierScore, ...] = ()
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # The earlier case of the same bytes whose pending review this object is held with.
    held_with: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.action.value,
            "reasons": list(self.reasons),
            "matches": [m.to_dict() for m in self.matches],
            "scores": [s.to_dict() for s in self.scores],
            "problems": list(self.problems),
            "notes": list(self.notes),
        }
        if self.held_with:
            data["held_with"] = self.held_with
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            action=Action(data["action"]),
            reasons=tuple(data.get("reasons", ())),
            matches=tuple(
                Match(**{**m, "labels": tuple(m.get("labels", ()))})
                for m in data.get("matches", ())
            ),
            scores=tuple(ClassifierScore(**s) for s in data.get("scores", ())),
            problems=tuple(data.get("problems", ())),
            notes=tuple(data.get("notes", ())),
            held_with=data.get("held_with"),
        )


@dataclass(frozen=True)
class Policy:
    """A tenant's rules for turning matches and scores into an action."""

    # Unset (None): the signal type's own default (`chalicelib.signals`), and for a distance
    # the deployment's (`CORDON_PDQ_DISTANCE`) first. Exact types share `exact_action`.
    pdq_distance: int | None = None
    exact_action: Action | None = None
    pdq_action: Action | None = None
    phash_action: Action | None = None
    classifier_enabled: bool = False
    classifier_min_confidence: float = 80.0
    classifier_action: Action = Action.REVIEW
    unscannable_action: Action = Action.REVIEW
    # Human review: of every TAKEDOWN too (REVIEW verdicts always are), and how long a
    # reviewer has before the case escalates and the tenant is told.
    review_takedowns: bool = False
    review_timeout_seconds: int = 24 * 3600
    # A match found only through a match variant (mirrored, trimmed, a tile...): never more
    # than the signal type's own action.
    variant_action: Action = Action.REVIEW
    # Who this tenant's confirmed hashes are shared with: all, groups (the tenant's own
    # groups) or private (this tenant alone).
    share_visibility: str = "all"

    def to_dict(self) -> dict[str, Any]:
        # Unset fields are left out: they follow the defaults of whoever reads the policy.
        return {
            f.name: (v.value if isinstance(v, Action) else v)
            for f in fields(self)
            for v in [getattr(self, f.name)]
            if v is not None
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Policy:
        data = data or {}
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = data.get(f.name)
            if raw is None:  # absent, or stored unset (DynamoDB NULL)
                continue
            kind = _POLICY_KINDS[f.name]
            if kind is Action:
                values[f.name] = Action(str(raw).upper())
            elif kind is bool:
                values[f.name] = _as_bool(f.name, raw)
            else:
                values[f.name] = kind(raw)
        return cls(**values)


# Each policy field's value type, from its annotation (`Action | None` is an Action).
_POLICY_KINDS: dict[str, type] = {
    name: next(a for a in (get_args(hint) or (hint,)) if a is not type(None))
    for name, hint in get_type_hints(Policy).items()
}


def _as_bool(name: str, raw: Any) -> bool:
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"policy field {name} must be true or false, not {raw!r}")


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    buckets: tuple[str, ...] = ()
    policy: Policy = field(default_factory=Policy)
    groups: tuple[str, ...] = ()  # named groups it belongs to, for hashes shared with groups


@dataclass(frozen=True)
class Result:
    """What processing one object did, as the handler, the replay tool and the demo report it."""

    outcome: Outcome
    ref: ObjectRef
    tenant_id: str | None = None
    case_id: str | None = None
    verdict: Verdict | None = None
    location: str | None = None
    detail: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "object": self.ref.to_dict(),
            "tenant_id": self.tenant_id,
            "case_id": self.case_id,
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "location": self.location,
            "detail": self.detail,
            "timings_ms": {k: round(v, 2) for k, v in self.timings.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Rebuild a result cached by the idempotency layer (its verdict as a plain dict)."""
        verdict = data.get("verdict")
        return cls(
            outcome=Outcome(data["outcome"]),
            ref=ObjectRef.from_dict(data["object"]),
            tenant_id=data.get("tenant_id"),
            case_id=data.get("case_id"),
            verdict=Verdict.from_dict(verdict) if verdict else None,
            location=data.get("location"),
            detail=data.get("detail", ""),
            timings=data.get("timings_ms", {}),
        )
