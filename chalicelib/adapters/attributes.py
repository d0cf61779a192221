"""What S3 keeps of an object beside its bytes: carried into its evidence copy, put back when a
reviewer's rejection restores it. Pure (no AWS call): `storage.py` reads and writes them.

A GET answers the headers and the user metadata; the tags take a request of their own
(GetObjectTagging), made only when the GET counts some (`TagCount`).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

# The headers an uploader sets and S3 serves back, by PutObject's parameter names.
HEADERS = (
    "ContentType",
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "Expires",
)
# On the evidence copy the upload's own user metadata sits beside Cordon's under this prefix,
# so neither can overwrite the other (none of Cordon's names starts with it).
UPLOAD_PREFIX = "upload-"
# S3 takes at most 2 KB of user metadata (names and values, UTF-8) on an object.
MAX_METADATA_BYTES = 2048


@dataclass(frozen=True)
class ObjectAttributes:
    """An object's headers (PutObject's names; Expires as the HTTP date S3 served), its user
    metadata (without `x-amz-meta-`), and how many tags S3 says it has."""

    headers: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    tag_count: int = 0

    @classmethod
    def of(cls, response: dict[str, Any]) -> ObjectAttributes:
        """From what GetObject or HeadObject answered."""
        headers = {name: response[name] for name in HEADERS[:-1] if response.get(name)}
        expires = response.get("ExpiresString")
        if not expires and isinstance(response.get("Expires"), datetime):
            expires = format_datetime(response["Expires"].astimezone(UTC), usegmt=True)
        if expires:
            headers["Expires"] = expires
        metadata = dict(response.get("Metadata") or {})
        return cls(headers, metadata, int(response.get("TagCount") or 0))


def metadata_size(metadata: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in metadata.items())


def evidence_metadata(
    cordon: dict[str, str], upload: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The evidence object's user metadata, and the upload's that did not fit on it.

    Cordon's own (already within 2 KB) comes first; the upload's joins it, under
    UPLOAD_PREFIX, when all of it fits beside them. Otherwise none of it goes on the object
    and all of it is returned, for the evidence record on the case to keep whole: a restore
    takes it from there (split, it would be two halves to join again)."""
    prefixed = {UPLOAD_PREFIX + name: value for name, value in upload.items()}
    if metadata_size(cordon) + metadata_size(prefixed) <= MAX_METADATA_BYTES:
        return {**cordon, **prefixed}, {}
    return dict(cordon), dict(upload)


def upload_metadata(on_evidence: dict[str, str], kept: dict[str, str] | None) -> dict[str, str]:
    """The upload's own user metadata, from its evidence copy's (or the record's, if kept)."""
    if kept:
        return dict(kept)
    return {
        name[len(UPLOAD_PREFIX) :]: value
        for name, value in on_evidence.items()
        if name.startswith(UPLOAD_PREFIX)
    }


def put_arguments(
    headers: dict[str, str], metadata: dict[str, str], tags: dict[str, str]
) -> dict[str, Any]:
    """PutObject's keyword arguments that write these headers, metadata and tags."""
    arguments: dict[str, Any] = {k: v for k, v in headers.items() if k in HEADERS[:-1]}
    if headers.get("Expires"):
        # An Expires that is no date (S3 serves what it was given) is not written back:
        # browsers treat it as expired already, as with none.
        with suppress(TypeError, ValueError):
            arguments["Expires"] = parsedate_to_datetime(headers["Expires"])
    if metadata:
        arguments["Metadata"] = dict(metadata)
    if tags:
        # S3 reads the tag set as a URL query; quote (%20), not quote_plus (+), for spaces.
        arguments["Tagging"] = urlencode(tags, quote_via=quote)
    return arguments
