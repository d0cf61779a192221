"""What of an object's headers, metadata and tags goes where: pure rules, no AWS."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

from chalicelib.adapters.attributes import (
    MAX_METADATA_BYTES,
    UPLOAD_PREFIX,
    ObjectAttributes,
    evidence_metadata,
    metadata_size,
    put_arguments,
    upload_metadata,
)

CORDON = {"cordon-case": "c" * 64, "cordon-tenant": "alpha", "verdict": "REVIEW"}


def test_the_uploads_metadata_joins_cordons_when_all_of_it_fits():
    upload = {"uploader": "u1", "cordon-case": "forged"}
    on_object, kept = evidence_metadata(CORDON, upload)
    assert kept == {}
    assert on_object["cordon-case"] == CORDON["cordon-case"], "an upload cannot overwrite ours"
    assert upload_metadata(on_object, None) == upload


def test_at_exactly_2_kb_it_fits_one_byte_more_and_it_goes_on_the_record_whole():
    room = MAX_METADATA_BYTES - metadata_size(CORDON) - len(UPLOAD_PREFIX) - len("a")
    on_object, kept = evidence_metadata(CORDON, {"a": "x" * room})
    assert kept == {} and metadata_size(on_object) == MAX_METADATA_BYTES
    on_object, kept = evidence_metadata(CORDON, {"a": "x" * (room + 1)})
    assert on_object == CORDON and kept == {"a": "x" * (room + 1)}
    assert upload_metadata(on_object, kept) == kept


def test_headers_and_tags_become_put_object_arguments():
    head = ObjectAttributes.of(
        {
            "ContentType": "image/png",
            "CacheControl": "no-cache",
            "Expires": datetime(2031, 5, 1, 12, 0, tzinfo=UTC),
            "Metadata": {"a": "1"},
            "TagCount": 2,
        }
    )
    assert head.headers["Expires"] == "Thu, 01 May 2031 12:00:00 GMT" and head.tag_count == 2
    arguments = put_arguments(head.headers, head.metadata, {"team": "news desk+sport=1", "k": ""})
    assert arguments["Expires"] == datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
    assert (arguments["ContentType"], arguments["Metadata"]) == ("image/png", {"a": "1"})
    assert "+" not in arguments["Tagging"].replace("%2B", "")
    assert dict(parse_qsl(arguments["Tagging"], keep_blank_values=True)) == {
        "team": "news desk+sport=1",
        "k": "",
    }


def test_an_expires_that_is_no_date_is_not_written_back():
    head = ObjectAttributes.of({"ExpiresString": "0", "ContentType": "image/png"})
    assert "Expires" not in put_arguments(head.headers, {}, {})
