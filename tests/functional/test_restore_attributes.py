"""A rejected takedown gives the platform its object back as it was: the bytes, and the headers,
user metadata and tags it was uploaded with, kept in the evidence copy meanwhile (moto)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from chalicelib.adapters.attributes import UPLOAD_PREFIX
from chalicelib.adapters.storage import ObjectStore
from chalicelib.models import ObjectRef
from tests.conftest import World
from tests.functional.test_ingest import pdq_of
from tests.functional.test_review import BAD_JPEG, COPY, call, client, status_of, waiting

client = client  # the fixture, imported

HEADERS = {
    "ContentType": "image/jpeg",
    "CacheControl": "public, max-age=86400",
    "ContentDisposition": 'inline; filename="poster.jpg"',
    "ContentLanguage": "de-AT",
    "Expires": datetime(2031, 5, 1, 12, 0, tzinfo=UTC),
}
METADATA = {"uploader": "user-8812", "album": "holiday%202026"}
TAGS = {"visibility": "public", "team": "news desk+sport=1"}


def upload_as_a_platform(
    world: World, key: str, metadata: dict[str, str] = METADATA, **headers: Any
) -> ObjectRef:
    """What a platform's upload carries besides its bytes."""
    tagging = "&".join(f"{k}={quote(v)}" for k, v in TAGS.items())
    response = world.s3.put_object(
        Bucket="alpha-uploads",
        Key=key,
        Body=COPY,
        Metadata=metadata,
        Tagging=tagging,
        **{**HEADERS, **headers},
    )
    return ObjectRef("alpha-uploads", key, response.get("VersionId"), response["ETag"])


def held(world: World, key: str, metadata: dict[str, str] = METADATA, **headers: Any) -> str:
    """The upload held for review (its tenant's PDQ matches go to review); its case id."""
    world.tenant("alpha", "alpha-uploads", pdq_action="REVIEW")
    world.share("pdq", pdq_of(BAD_JPEG), ("terrorist-propaganda",))
    case_id = upload_as_a_platform(world, key, metadata, **headers).case_id("alpha")
    world.settle(until=lambda: waiting(world, case_id))
    return case_id


def reject(world: World, client: Any, case_id: str) -> None:
    key = world.reviewer("alpha", "rev-ana")
    decision = {"action": "reject", "reason": "a film still"}
    assert call(client, key, "POST", f"/cases/{case_id}/decision", decision).status_code == 202
    world.settle(until=lambda: status_of(world, case_id) == "reinstated")


def headers_of(response: dict[str, Any]) -> dict[str, Any]:
    return {name: response.get(name) for name in HEADERS}


def tags_of(world: World, bucket: str, key: str, version: str | None = None) -> dict[str, str]:
    extra = {"VersionId": version} if version else {}
    tagging = world.s3.get_object_tagging(Bucket=bucket, Key=key, **extra)
    return {t["Key"]: t["Value"] for t in tagging["TagSet"]}


def test_a_rejected_takedown_restores_the_uploads_headers_metadata_and_tags(world, client):
    case_id = held(world, "poster.jpg")
    evidence = world.cordon.cases.get(case_id).evidence
    # The evidence copy has them too, beside Cordon's own metadata.
    stored = world.s3.head_object(
        Bucket=evidence["bucket"], Key=evidence["key"], VersionId=evidence["version_id"]
    )
    assert headers_of(stored) == HEADERS
    assert stored["Metadata"]["cordon-case"] == case_id
    assert {k: v for k, v in stored["Metadata"].items() if k.startswith(UPLOAD_PREFIX)} == {
        UPLOAD_PREFIX + k: v for k, v in METADATA.items()
    }
    assert tags_of(world, evidence["bucket"], evidence["key"], evidence["version_id"]) == TAGS

    reject(world, client, case_id)
    back = world.s3.get_object(Bucket="alpha-uploads", Key="poster.jpg")
    assert hashlib.sha256(back["Body"].read()).digest() == hashlib.sha256(COPY).digest()
    assert headers_of(back) == HEADERS
    assert back["Metadata"] == METADATA
    assert tags_of(world, "alpha-uploads", "poster.jpg") == TAGS


def test_metadata_that_does_not_fit_beside_cordons_is_kept_on_the_case_and_restored(world, client):
    # GIVEN an upload whose own metadata nearly fills S3's 2 KB: beside Cordon's it cannot fit
    big = {"caption": "x" * 1900, "uploader": "user-8812"}
    case_id = held(world, "long-caption.jpg", metadata=big)
    evidence = world.cordon.cases.get(case_id).evidence
    stored = world.s3.head_object(
        Bucket=evidence["bucket"], Key=evidence["key"], VersionId=evidence["version_id"]
    )
    # THEN the evidence object holds Cordon's metadata only, the case the upload's, whole
    assert not [k for k in stored["Metadata"] if k.startswith(UPLOAD_PREFIX)]
    assert stored["Metadata"]["cordon-case"] == case_id
    assert evidence["upload_metadata"] == big
    # AND the restore puts it back
    reject(world, client, case_id)
    assert world.s3.head_object(Bucket="alpha-uploads", Key="long-caption.jpg")["Metadata"] == big


def test_tags_that_cannot_be_read_do_not_stop_the_takedown(world, monkeypatch):
    # GIVEN a bucket that denies Cordon the upload's tags (moto enforces no policy: injected)
    def denied(self: ObjectStore, bucket: str, key: str, version_id: str | None) -> dict:
        raise ClientError({"Error": {"Code": "AccessDenied"}}, "GetObjectTagging")

    monkeypatch.setattr(ObjectStore, "_tags", denied)
    case_id = held(world, "denied.jpg")
    # THEN the object is out all the same, and the case says what the evidence lacks
    assert not world.exists("alpha-uploads", "denied.jpg")
    evidence = world.cordon.cases.get(case_id).evidence
    assert evidence["tags_error"] == "the upload's 2 tags could not be read: AccessDenied"


def test_an_untagged_upload_costs_no_tagging_request(world, monkeypatch):
    read: list[tuple[str, ...]] = []
    monkeypatch.setattr(ObjectStore, "_tags", lambda self, *args: read.append(args) or {})
    world.tenant("alpha", "alpha-uploads", pdq_action="REVIEW")
    world.share("pdq", pdq_of(BAD_JPEG))
    case_id = world.upload("alpha-uploads", "plain.jpg", COPY).case_id("alpha")
    world.settle(until=lambda: waiting(world, case_id))
    assert read == []


def test_the_reviewers_image_url_serves_the_bytes_whatever_type_the_uploader_set(world):
    # GIVEN an upload that calls itself HTML: the evidence keeps that for the restore...
    case_id = held(world, "page.jpg", ContentType="text/html")
    evidence = world.cordon.cases.get(case_id).evidence
    stored = world.s3.head_object(Bucket=evidence["bucket"], Key=evidence["key"])
    assert stored["ContentType"] == "text/html"
    # ...but the URL the review page shows it through asks S3 for opaque bytes
    url = world.cordon.store.presigned_evidence_url(evidence)
    assert "response-content-type=binary%2Foctet-stream" in url
    assert "response-content-encoding=identity" in url


def test_an_upload_that_claims_gzip_is_still_taken_down_and_restored_bit_identical(world, client):
    # GIVEN a known-bad image whose uploader says it is gzip-compressed (it is not): the
    # evidence copy keeps the claim, and no reader on the way decodes it
    case_id = held(world, "claims-gzip.jpg", ContentEncoding="gzip")
    assert not world.exists("alpha-uploads", "claims-gzip.jpg")
    evidence = world.cordon.cases.get(case_id).evidence
    assert world.cordon.store.read_evidence(evidence) == COPY
    reject(world, client, case_id)
    back = world.s3.get_object(Bucket="alpha-uploads", Key="claims-gzip.jpg")
    assert back["ContentEncoding"] == "gzip" and back["Body"].read() == COPY
