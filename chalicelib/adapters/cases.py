"""Cases and their audit trail (DynamoDB).

One table: the case item (`pk` = case id, `sk` = "CASE") and its audit events under it,
written once and never updated: `sk` = "AUDIT#<time>#<n>" for an event that may recur (a
retry, a re-upload removed), "AUDIT#<occurrence>#<event>" for one written once per occurrence
(the verdict of the case's first quarantine: "AUDIT#q1#verdict"), so that a retried step finds
its row there. The GSI `by_tenant_status`
(`tenant_id`, `status_at`) lists a tenant's cases by status, oldest first; only case items
carry those attributes, so audit events stay out of it. Every case write is billed in the
table and again in the index, per KB started.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from chalicelib.errors import CordonError
from chalicelib.lifecycle import Case, CaseStatus, Precedent, Ruling
from chalicelib.models import Verdict, now_iso

CASE_SK = "CASE"
AUDIT_PREFIX = "AUDIT#"
# A tenant's ruling on some bytes (`BYTES#<tenant>#<sha256>`, sk "RULING"): no tenant_id or
# status_at, so it stays out of the index.
PRECEDENT_PREFIX = "BYTES#"
PRECEDENT_SK = "RULING"
TENANT_STATUS_INDEX = "by_tenant_status"


def to_dynamo(value: Any) -> Any:
    """Floats become Decimals (DynamoDB has no float); everything else passes through JSON."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def from_dynamo(value: Any) -> Any:
    """Decimals back to int or float, so items serialise as plain JSON."""
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# Attributes of the stored item that are the store's own (keys, index) or read into fields.
_STORE_ONLY = frozenset({"pk", "sk", "status_at"})
_FIELDS = frozenset(
    {
        "case_id", "tenant_id", "status", "created_at", "updated_at", "object", "sha256",
        "signals", "verdict", "history", "evidence", "review", "decisions", "notice", "detail",
        "attached", "attached_to", "quarantines",
    }
)  # fmt: skip


def case_from_item(item: dict[str, Any]) -> Case:
    """A stored case item as the services see it, with what `open` leaves implied: the id is
    the key, the update time is the creation time until an update, and the SHA-256 (stored
    once, on its own) stands first among the signals, as examined."""
    data = from_dynamo(item)
    signals = list(data.get("signals") or [])
    sha256 = data.get("sha256")
    if sha256 and all(s["type"] != "sha256" for s in signals):
        signals.insert(0, {"type": "sha256", "value": sha256})
    verdict = data.get("verdict")
    return Case(
        case_id=data["pk"],
        tenant_id=data["tenant_id"],
        status=CaseStatus(data["status"]),
        created_at=data.get("created_at", ""),
        updated_at=data.get("updated_at") or data.get("created_at", ""),
        object=data.get("object") or {},
        sha256=sha256,
        signals=tuple(signals),
        verdict=Verdict.from_dict(verdict) if verdict else None,
        history=tuple(data.get("history") or ()),
        evidence=data.get("evidence"),
        review=data.get("review"),
        decisions=tuple(data.get("decisions") or ()),
        notice=data.get("notice"),
        detail=data.get("detail") or "",
        attached=tuple(data.get("attached") or ()),
        attached_to=data.get("attached_to"),
        quarantines=data.get("quarantines", 0),
        extra={k: v for k, v in data.items() if k not in _FIELDS | _STORE_ONLY},
    )


def _time_order(row: dict[str, Any]) -> tuple[str, str]:
    return row["at"], row["sk"]


def _precedent_key(tenant_id: str, sha256: str) -> dict[str, str]:
    return {"pk": f"{PRECEDENT_PREFIX}{tenant_id}#{sha256}", "sk": PRECEDENT_SK}


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class CaseStore:
    def __init__(self, table: Any) -> None:
        self.table = table

    def _put_new(self, item: dict[str, Any]) -> bool:
        """Put `item` unless its key is taken; False if another item holds it. The item
        already there being this very one counts as written: botocore sends a request again
        when its answer is lost, and the second send must not fail what the first did."""
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            stored = error.response.get("Item") or {}
            deserialize = TypeDeserializer().deserialize
            return {name: deserialize(value) for name, value in stored.items()} == item
        return True

    def get(self, case_id: str) -> Case | None:
        item = self.table.get_item(Key={"pk": case_id, "sk": CASE_SK}, ConsistentRead=True)
        return case_from_item(item["Item"]) if "Item" in item else None

    def open(self, case_id: str, tenant_id: str, status: str, fields: dict[str, Any]) -> bool:
        """Create the case unless it exists; False if it did (a retry finds its own case)."""
        at = now_iso()
        # Neither `case_id` (the pk) nor `updated_at` (the creation time until an update) is
        # stored: `case_from_item` restores them on read. Every case write is billed per KB
        # started, twice over (the table and its index), and most cases are never updated.
        item = {
            "pk": case_id,
            "sk": CASE_SK,
            "tenant_id": tenant_id,
            "status": status,
            "status_at": f"{status}#{at}",
            "created_at": at,
            "history": [{"status": status, "at": at}],
            **fields,
        }
        return self._put_new(to_dynamo(item))

    def set_status(self, case_id: str, status: str, fields: dict[str, Any] | None = None) -> None:
        """Move the case to `status` (kept in its history), setting `fields` alongside."""
        at = now_iso()
        self._update(
            case_id,
            {"status": status, "status_at": f"{status}#{at}", "updated_at": at, **(fields or {})},
            history_entry={"status": status, "at": at},
        )

    def update_fields(self, case_id: str, fields: dict[str, Any]) -> None:
        self._update(case_id, {**fields, "updated_at": now_iso()})

    def _update(
        self, case_id: str, fields: dict[str, Any], history_entry: dict[str, Any] | None = None
    ) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":f{i}": value for i, value in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        if history_entry:
            values[":entry"] = [history_entry]
            expression += ", history = list_append(history, :entry)"
        self.table.update_item(
            Key={"pk": case_id, "sk": CASE_SK},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_dynamo(values),
            ConditionExpression="attribute_exists(pk)",
        )

    def claim_decision(
        self,
        case_id: str,
        token: str,
        decision: dict[str, Any],
        status: str,
        exclude: str | None = None,
        claim: dict[str, Any] | None = None,
    ) -> bool:
        """Record a reviewer's decision if the case still waits on `token`; False if another
        decision took it first. The token goes with it, so it is answered exactly once: it
        moves to `review.claim` (with `claim`'s details), where a retry of the same decision
        or the sweeper finds it if the answer to this write, or the Lambda, is lost."""
        at = now_iso()
        values: dict[str, Any] = {
            ":token": token,
            ":decision": [decision],
            ":status": status,
            ":status_at": f"{status}#{at}",
            ":at": at,
            ":entry": [{"status": status, "at": at}],
            ":none": [],
            ":claim": {**(claim or {}), "token": token, "at": at},
        }
        expression = (
            "SET #status = :status, status_at = :status_at, updated_at = :at, "
            "history = list_append(history, :entry), "
            "decisions = list_append(if_not_exists(decisions, :none), :decision), "
            "#review.claim = :claim"
        )
        if exclude:
            values[":exclude"] = [exclude]
            expression += (
                ", #review.excluded = list_append(if_not_exists(#review.excluded, :none), :exclude)"
            )
        try:
            self.table.update_item(
                Key={"pk": case_id, "sk": CASE_SK},
                UpdateExpression=expression + " REMOVE #review.#token",
                ConditionExpression="#review.#token = :token",
                ExpressionAttributeNames={
                    "#status": "status",
                    "#review": "review",
                    "#token": "token",
                },
                ExpressionAttributeValues=to_dynamo(values),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def claimed_before(self, tenant_id: str, before: str) -> list[Case]:
        """The tenant's cases `deciding` since before `before` (ISO time): one query of the
        status index, reading only those."""
        status = CaseStatus.DECIDING.value
        condition = KeyCondition("tenant_id").eq(tenant_id) & KeyCondition("status_at").between(
            f"{status}#", f"{status}#{before}"
        )
        return self._query_all(TENANT_STATUS_INDEX, condition)

    # -- the tenant's standing decision on some bytes, wherever they are uploaded again -----
    def precedent(self, tenant_id: str, sha256: str) -> Precedent | None:
        """The ruling of the tenant's latest case of these bytes (an eventually consistent
        read: one upload's ruling reaches a copy uploaded a second later)."""
        item = self.table.get_item(Key=_precedent_key(tenant_id, sha256)).get("Item")
        return Precedent(item["case_id"], Ruling(item["ruling"])) if item else None

    def set_precedent(self, tenant_id: str, sha256: str, case_id: str, ruling: Ruling) -> None:
        self.table.put_item(
            Item={
                **_precedent_key(tenant_id, sha256),
                "case_id": case_id,
                "ruling": ruling.value,
                "at": now_iso(),
            }
        )

    def attach(self, case_id: str, attached_id: str) -> None:
        """Hold `attached_id` (the same bytes, uploaded again) with the review of `case_id`:
        its decision is applied to both."""
        self.table.update_item(
            Key={"pk": case_id, "sk": CASE_SK},
            UpdateExpression="SET attached = list_append(if_not_exists(attached, :none), :id)",
            ExpressionAttributeValues={":id": [attached_id], ":none": []},
            ConditionExpression="attribute_exists(pk)",
        )

    def release_decision(
        self,
        case_id: str,
        token: str,
        claimed: str,
        back_to: str,
        decision_index: int,
        excluded_index: int | None = None,
        give_token_back: bool = True,
    ) -> bool:
        """Undo `claim_decision` when the workflow did not take the answer: the status back,
        the decision (and an escalation's exclusion) taken off again, the claim dropped, and
        the token back (unless it is dead: a new review then brings a new one). Only while
        the case is as the claim left it; False if something else moved it since."""
        at = now_iso()
        removes = [f"decisions[{decision_index}]", "#review.claim"]
        if excluded_index is not None:
            removes.append(f"#review.excluded[{excluded_index}]")
        sets = "SET #status = :back, status_at = :status_at, updated_at = :at, "
        sets += "history = list_append(history, :entry)"
        values: dict[str, Any] = {
            ":back": str(back_to),
            ":claimed": str(claimed),
            ":status_at": f"{back_to}#{at}",
            ":at": at,
            ":entry": [{"status": str(back_to), "at": at}],
        }
        if give_token_back:
            sets += ", #review.#token = :token"
            values[":token"] = token
        try:
            self.table.update_item(
                Key={"pk": case_id, "sk": CASE_SK},
                UpdateExpression=sets + " REMOVE " + ", ".join(removes),
                ConditionExpression=(
                    "#status = :claimed AND attribute_not_exists(#review.#token) "
                    "AND #review.claim.#token = :claimed_token"
                ),
                ExpressionAttributeNames={
                    "#status": "status",
                    "#review": "review",
                    "#token": "token",
                },
                ExpressionAttributeValues=to_dynamo({**values, ":claimed_token": token}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def audit(
        self,
        case_id: str,
        event: str,
        detail: dict[str, Any] | None = None,
        actor: str = "cordon",
        once: str | None = None,
    ) -> None:
        """Append one audit event; the condition makes an overwrite impossible.

        `once` names the occurrence the event belongs to (`q1`: the case's first quarantine):
        it is then written at most once, and a retry of the step (after a crash, or by a
        concurrent delivery) finds the first row and keeps it. Events without `once` each get
        a row; botocore's resend of one whose answer was lost finds its own row and succeeds.
        """
        at = now_iso()
        sk = f"{once}#{event}" if once else f"{at}#{uuid.uuid4().hex[:8]}"
        item = {
            "pk": case_id,
            "sk": AUDIT_PREFIX + sk,
            "event": event,
            "actor": actor,
            "at": at,
            "detail": detail or {},
        }
        if not self._put_new(to_dynamo(item)) and not once:
            raise CordonError(f"audit row {item['sk']} of {case_id} holds another event")

    def audit_trail(self, case_id: str) -> list[dict[str, Any]]:
        response = self.table.query(
            KeyConditionExpression=KeyCondition("pk").eq(case_id)
            & KeyCondition("sk").begins_with(AUDIT_PREFIX),
            ConsistentRead=True,
        )
        # In the order they happened: rows written once are keyed by what they record.
        return sorted((from_dynamo(item) for item in response["Items"]), key=_time_order)

    def for_tenant(
        self, tenant_id: str, status: str | None = None, since: str | None = None
    ) -> list[Case]:
        """A tenant's cases (in one status), through `by_tenant_status`. With `since` (an ISO
        time, as `now_iso` writes them), only those that entered the status at or after it:
        every case created since then, and cases older than that which moved since."""
        condition = KeyCondition("tenant_id").eq(tenant_id)
        if status and since:
            # "#" < "$": every key of this status from `since` on, and no other status.
            condition &= KeyCondition("status_at").between(f"{status}#{since}", f"{status}$")
        elif status:
            condition &= KeyCondition("status_at").begins_with(f"{status}#")
        elif since:
            return [
                case
                for each in CaseStatus
                for case in self.for_tenant(tenant_id, each.value, since)
            ]
        return self._query_all(TENANT_STATUS_INDEX, condition)

    def _query_all(self, index: str, condition: Any) -> list[Case]:
        kwargs: dict[str, Any] = {"IndexName": index, "KeyConditionExpression": condition}
        items: list[Case] = []
        while True:
            response = self.table.query(**kwargs)
            items.extend(case_from_item(item) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
