"""S3: read tenants' objects under a size cap, move them into the locked evidence bucket."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from chalicelib.adapters.attributes import (
    MAX_METADATA_BYTES,
    ObjectAttributes,
    evidence_metadata,
    put_arguments,
    upload_metadata,
)
from chalicelib.errors import (
    ChecksumMismatchError,
    ObjectGoneError,
    ObjectReplacedError,
    QuarantineError,
)
from chalicelib.models import ObjectRef

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

_GONE_CODES = frozenset({"NoSuchKey", "404", "NoSuchVersion", "NotFound"})
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ObjectHead:
    size: int
    etag: str
    version_id: str | None
    content_type: str
    # Headers, user metadata and tag count: kept in evidence, put back by a restore.
    attributes: ObjectAttributes = field(default_factory=ObjectAttributes)


@dataclass(frozen=True)
class Fetched:
    """One GET of an object: what it is, and its bytes (`data`) when they fit under the cap;
    over the cap `data` is None and `body` is the still-open stream of the same GET."""

    head: ObjectHead
    data: bytes | None
    body: StreamingBody | None

    def chunks(self) -> Iterator[bytes]:
        """The over-cap body in chunks, closed once read (or abandoned)."""
        if self.body is None:
            return
        with closing(self.body):
            yield from self.body.iter_chunks(CHUNK_BYTES)


@dataclass(frozen=True)
class EvidenceCopy:
    bucket: str
    key: str
    version_id: str | None
    checksum_sha256: str
    retain_until: str | None
    # The upload's user metadata when it did not fit on the evidence object beside Cordon's.
    upload_metadata: dict[str, str] = field(default_factory=dict)
    # Why the upload's tags could not be read (the evidence, and a restore, lack them).
    tags_error: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "checksum_sha256": self.checksum_sha256,
            "retain_until": self.retain_until,
            # Only when there is something to say: the case item stays small.
            **({"upload_metadata": self.upload_metadata} if self.upload_metadata else {}),
            **({"tags_error": self.tags_error} if self.tags_error else {}),
        }


def _is_gone(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _GONE_CODES


def _gone(error: ClientError, ref: ObjectRef) -> ObjectGoneError | None:
    """ObjectGoneError when S3 says this version (or these bytes) no longer exist; None for
    any other error: only what retrying cannot fix counts as gone."""
    code = error.response.get("Error", {}).get("Code")
    if code in _GONE_CODES:
        return ObjectGoneError(f"{ref.uri} no longer exists")
    if code == "PreconditionFailed":
        return ObjectGoneError(f"{ref.uri} was overwritten (its ETag is no longer {ref.etag})")
    if ref.version_id and code in ("400", "InvalidArgument", "405", "MethodNotAllowed"):
        # A version id the bucket never had (HEAD's 400 has no error body), or one that
        # names a delete marker: retrying cannot make the version appear.
        return ObjectGoneError(
            f"{ref.uri} has no version {ref.version_id} (the bucket rejects it: {code})"
        )
    return None


def _head_of(response: dict[str, Any]) -> ObjectHead:
    """What HEAD and GET both answer about the object."""
    return ObjectHead(
        size=response["ContentLength"],
        etag=response["ETag"].strip('"'),
        version_id=response.get("VersionId"),
        content_type=response.get("ContentType", ""),
        attributes=ObjectAttributes.of(response),
    )


def _user_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """The evidence's metadata, percent-encoded (S3 takes ASCII) and within the 2 KB S3
    allows: past it, the longest value (a long key) keeps its end behind "..." (the case
    holds it whole)."""
    encoded = {k: quote(v, safe="") for k, v in metadata.items()}
    total = sum(len(k) + len(v) for k, v in encoded.items())
    if total <= MAX_METADATA_BYTES:
        return encoded
    longest = max(encoded, key=lambda k: len(encoded[k]))
    raw = metadata[longest]
    budget = MAX_METADATA_BYTES - (total - len(encoded[longest])) - len("...")
    kept, size = 0, 0
    for char in reversed(raw):
        size += len(quote(char, safe=""))
        if size > budget:
            break
        kept += 1
    encoded[longest] = "..." + quote(raw[len(raw) - kept :], safe="")
    return encoded


def sha256_b64(hex_digest: str) -> str:
    """S3 reports SHA-256 checksums as base64 of the digest."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


class ObjectStore:
    def __init__(self, s3: S3Client, evidence_bucket: str) -> None:
        self.s3 = s3
        self.evidence_bucket = evidence_bucket

    def _version(self, ref: ObjectRef) -> dict[str, str]:
        return {"VersionId": ref.version_id} if ref.version_id else {}

    def head(self, ref: ObjectRef) -> ObjectHead:
        """The object as it is now (replays by key only: the ingest path reads with `fetch`);
        ObjectGoneError if it (or this version) no longer exists."""
        try:
            response = self.s3.head_object(Bucket=ref.bucket, Key=ref.key, **self._version(ref))
        except ClientError as error:
            gone = _gone(error, ref)
            if gone is None:
                raise
            raise gone from error
        head = _head_of(response)
        if not ref.version_id and ref.etag and ref.etag != head.etag:
            raise ObjectGoneError(f"{ref.uri} was overwritten (ETag {ref.etag} is now {head.etag})")
        return head

    def fetch(self, ref: ObjectRef, max_bytes: int) -> Fetched:
        """The object in one GET: its size, version and ETag come with the body, so no HEAD.

        The version the event named is read (or, without a version id, the bytes whose ETag
        it named: If-Match, so an overwritten key reads as gone, not as someone else's
        upload). A body up to `max_bytes` is read whole; a larger one is left open to be
        streamed, never whole in memory. ObjectGoneError if that version no longer exists.
        """
        condition = {"IfMatch": f'"{ref.etag}"'} if ref.etag and not ref.version_id else {}
        try:
            response = self.s3.get_object(
                Bucket=ref.bucket, Key=ref.key, **self._version(ref), **condition
            )
        except ClientError as error:
            gone = _gone(error, ref)
            if gone is None:
                raise
            raise gone from error
        head = _head_of(response)
        body = response["Body"]
        if head.size > max_bytes:
            return Fetched(head, None, body)
        with closing(body):
            return Fetched(head, body.read(), None)

    def read_evidence(self, evidence: dict[str, Any]) -> bytes:
        """The bytes of an evidence copy, as recorded on its case."""
        return self._get_evidence(evidence)["Body"].read()

    def _get_evidence(self, evidence: dict[str, Any]) -> dict[str, Any]:
        version = {"VersionId": evidence["version_id"]} if evidence.get("version_id") else {}
        return self.s3.get_object(Bucket=evidence["bucket"], Key=evidence["key"], **version)

    def _tags(self, bucket: str, key: str, version_id: str | None) -> dict[str, str]:
        version = {"VersionId": version_id} if version_id and version_id != "null" else {}
        response = self.s3.get_object_tagging(Bucket=bucket, Key=key, **version)
        return {tag["Key"]: tag["Value"] for tag in response.get("TagSet", [])}

    def _restorable(self, evidence: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
        """PutObject's arguments that give the restored object the upload's headers, user
        metadata and tags, as its evidence copy keeps them."""
        kept = ObjectAttributes.of(stored)
        tags = (
            self._tags(evidence["bucket"], evidence["key"], evidence.get("version_id"))
            if kept.tag_count
            else {}
        )
        metadata = upload_metadata(kept.metadata, evidence.get("upload_metadata"))
        return put_arguments(kept.headers, metadata, tags)

    def reinstate(
        self, evidence: dict[str, Any], bucket: str, key: str, sha256_hex: str, judged_at: str
    ) -> str:
        """Put the evidence copy back where it was, bit-identical (SHA-256 checked by S3 on
        arrival and again on read-back); returns the new version id, if any. The evidence
        copy stays, locked, as the record of what was restored. An object put at the key after
        the upload was judged (`judged_at`) is never overwritten (ObjectReplacedError); an
        older one (a versioned bucket's previous version) is, conditionally on its ETag. The
        upload's headers, user metadata and tags come back with it, from the evidence copy."""
        stored = self._get_evidence(evidence)
        data = stored["Body"].read()
        if hashlib.sha256(data).hexdigest() != sha256_hex:
            raise ChecksumMismatchError(f"evidence of s3://{bucket}/{key} no longer matches")
        try:
            current = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if not _is_gone(error) and error.response.get("Error", {}).get("Code") != "404":
                raise
            current = None
        condition = {"IfNoneMatch": "*"}
        if current is not None:
            # S3's Last-Modified is to the second: one in the second of judging counts as newer.
            judged = datetime.fromisoformat(judged_at).replace(microsecond=0)
            if current["LastModified"] >= judged:
                raise ObjectReplacedError(
                    f"s3://{bucket}/{key} holds an object put there after the upload was "
                    "judged: the evidence was not restored over it"
                )
            condition = {"IfMatch": current["ETag"]}
        try:
            response = self.s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=sha256_b64(sha256_hex),
                **self._restorable(evidence, stored),
                **condition,  # a newer upload racing the restore is not overwritten either
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise ObjectReplacedError(
                    f"s3://{bucket}/{key} holds a newer object: the evidence was not restored "
                    "over it"
                ) from error
            raise
        version = response.get("VersionId")
        back = self.s3.get_object(
            Bucket=bucket, Key=key, **({"VersionId": version} if version else {})
        )
        if hashlib.sha256(back["Body"].read()).hexdigest() != sha256_hex:
            raise ChecksumMismatchError(f"restored s3://{bucket}/{key} differs from evidence")
        return version or ""

    def presigned_evidence_url(self, evidence: dict[str, Any], seconds: int = 300) -> str:
        params = {
            "Bucket": evidence["bucket"],
            "Key": evidence["key"],
            # The evidence keeps the uploader's Content-Type and Content-Encoding (for the
            # restore); the reviewer is served the bytes as hashed, never as HTML or decoded.
            "ResponseContentType": "binary/octet-stream",
            "ResponseContentEncoding": "identity",
        }
        if evidence.get("version_id"):
            params["VersionId"] = evidence["version_id"]
        return self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)

    def store_evidence(
        self,
        ref: ObjectRef,
        evidence_key: str,
        data: bytes | None,
        sha256_hex: str,
        metadata: dict[str, str],
        head: ObjectHead | None = None,
    ) -> EvidenceCopy:
        """Write the evidence copy, then read it back and check its SHA-256 against ours.

        The copy keeps the upload's headers, user metadata (beside Cordon's, or on the record
        when both do not fit in S3's 2 KB) and tags (`head`: what the GET answered), for a
        restore to put back.

        Objects Cordon holds in memory are written from the very bytes it hashed, with their
        SHA-256 for S3 to check on arrival; objects over the size cap are copied server-side.
        The read-back check holds on any backend, whatever it verifies itself. The key is the
        case's, and the write is conditional (`If-None-Match: *`): a retry, or a concurrent
        delivery, finds the copy an earlier attempt wrote and checks that one, so the locked
        bucket never holds a second version of it.
        """
        upload = head.attributes if head is not None else ObjectAttributes()
        tags, tags_error = self._upload_tags(ref, upload, head)
        on_object, kept = evidence_metadata(_user_metadata(metadata), upload.metadata)
        common: dict[str, Any] = {
            "Bucket": self.evidence_bucket,
            "Key": evidence_key,
            "ChecksumAlgorithm": "SHA256",
            "ServerSideEncryption": "AES256",
            **put_arguments(upload.headers, on_object, tags),
            "IfNoneMatch": "*",
        }
        try:
            if data is not None:
                response = self.s3.put_object(
                    Body=data, ChecksumSHA256=sha256_b64(sha256_hex), **common
                )
            else:
                source = {"Bucket": ref.bucket, "Key": ref.key, **self._version(ref)}
                # REPLACE: the metadata and tags written are the ones above (Cordon's beside the
                # upload's), as for a PUT.
                response = self.s3.copy_object(
                    CopySource=source,
                    MetadataDirective="REPLACE",
                    TaggingDirective="REPLACE",
                    **common,
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                if _is_gone(error):
                    raise ObjectGoneError(f"{ref.uri} vanished before it was copied") from error
                # 409 ConditionalRequestConflict (a concurrent write) included: retried.
                raise QuarantineError(f"evidence copy of {ref.uri} failed: {error}") from error
            response = {}  # written already: the copy there is read back and checked
        version = response.get("VersionId")
        stored = self.s3.get_object(
            Bucket=self.evidence_bucket,
            Key=evidence_key,
            **({"VersionId": version} if version else {}),
        )
        version = version or stored.get("VersionId")
        digest = hashlib.sha256()
        for chunk in stored["Body"].iter_chunks(CHUNK_BYTES):
            digest.update(chunk)
        if digest.hexdigest() != sha256_hex:
            raise ChecksumMismatchError(
                f"evidence copy of {ref.uri} has SHA-256 {digest.hexdigest()}, "
                f"the original {sha256_hex}"
            )
        retain = stored.get("ObjectLockRetainUntilDate")
        return EvidenceCopy(
            bucket=self.evidence_bucket,
            key=evidence_key,
            version_id=version,
            checksum_sha256=sha256_hex,
            retain_until=retain.isoformat() if retain else None,
            upload_metadata=kept,
            tags_error=tags_error,
        )

    def _upload_tags(
        self, ref: ObjectRef, upload: ObjectAttributes, head: ObjectHead | None
    ) -> tuple[dict[str, str], str | None]:
        """The upload's tags (a request only when the GET counted some), and why they could
        not be read: a takedown never waits on them (a bucket policy may deny the read)."""
        if not upload.tag_count:
            return {}, None
        version = ref.version_id or (head.version_id if head else None)
        try:
            return self._tags(ref.bucket, ref.key, version), None
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            return {}, f"the upload's {upload.tag_count} tags could not be read: {code}"

    def delete_original(self, ref: ObjectRef, head: ObjectHead | None) -> None:
        """Remove the version that was copied (not just hide it behind a delete marker). In an
        unversioned bucket only the bytes judged: `If-Match` on their ETag, so a newer upload
        that landed since the GET stays (ObjectReplacedError); it has an event of its own."""
        version = ref.version_id or (head.version_id if head else None)
        kwargs: dict[str, str] = {"VersionId": version} if version and version != "null" else {}
        etag = (head.etag if head else None) or ref.etag
        if not kwargs and etag:
            kwargs["IfMatch"] = f'"{etag}"'
        try:
            self.s3.delete_object(Bucket=ref.bucket, Key=ref.key, **kwargs)  # type: ignore[arg-type]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "PreconditionFailed":
                raise ObjectReplacedError(
                    f"{ref.uri} holds a newer object than the one judged: left in place"
                ) from error
            if not _is_gone(error):
                raise
