"""Hash lists in and out of Cordon: JSON lines, CSV, and the plain list python-threatexchange's
`local_file` exchange reads (one `TYPE HASH` per line, lowercase hex). Imports also take what
operators are sent: CSV without its header or with a UTF-8 BOM, a JSON array (of hashes or of
objects), and bare hashes one a line, whose type is `--type` or their length (never for 64 hex
digits, which PDQ and SHA-256 share). A line that cannot be imported is skipped and reported
with its number; a file that is no list at all (broken JSON, an image, not UTF-8) is refused.

ThreatExchange names no exact hash of a photo: its `video_md5` and `video_sha256` are digests of
a file's bytes, as Cordon's `md5` and `sha256` are, so on import they become Cordon's; on export
Cordon's exact hashes are written under those names only when asked (`exact_as_video`), since
a tool reading them will take them for videos. pHash has no ThreatExchange name and `url` and
`raw_text` no Cordon one: such lines are skipped and counted, never guessed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from chalicelib.models import HashRecord

FORMATS = ("jsonl", "csv", "te")
TE_TO_CORDON = {"pdq": "pdq", "video_md5": "md5", "video_sha256": "sha256"}
CORDON_TO_TE_EXACT = {"md5": "video_md5", "sha256": "video_sha256"}


@dataclass
class Parsed:
    records: list[HashRecord] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many
    lines: dict[str, list[str]] = field(default_factory=dict)  # why -> the first few lines

    def skip(self, why: str, line: int | None = None, value: str | None = None) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1
        if line is not None and len(self.lines.setdefault(why, [])) < SHOWN_LINES:
            self.lines[why].append(f"{line} {value[:20]!r}" if value else str(line))

    def report(self, reasons: int = 10) -> list[str]:
        """One line a reason (the commonest first, at most `reasons`): how many were skipped,
        why, and where."""
        out = []
        ranked = sorted(self.skipped.items(), key=lambda item: -item[1])
        for why, count in ranked[:reasons]:
            where = self.lines.get(why)
            more = ", ..." if where and count > len(where) else ""
            at = f" (line {', '.join(where)}{more})" if where else ""
            out.append(f"skipped {count}: {why}{at}")
        if len(ranked) > reasons:
            rest = sum(count for _, count in ranked[reasons:])
            out.append(f"skipped {rest} more, for {len(ranked) - reasons} other reasons")
        return out


SHOWN_LINES = 5
HEX = frozenset("0123456789abcdef")
# Lengths in hex digits that name one type; 64 is both PDQ's and SHA-256's, so a bare
# 64-digit value needs --type (or a column, or a TYPE prefix) and is never guessed.
BY_LENGTH = {32: "md5", 16: "phash"}
AMBIGUOUS = "64 hex digits may be a PDQ or a SHA-256: say which with --type pdq|sha256"
VALUE_COLUMNS = ("value", "hash", "signal_value")
TYPE_COLUMNS = ("signal_type", "type", "hash_type")


def detect(text: str) -> str:
    """jsonl, json (an array), csv (a header naming the columns), or lines (`TYPE HASH`
    lines, bare hashes, or headerless `type,value,labels` rows)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("["):
        return "json"
    if first.startswith("{"):
        return "jsonl"
    columns = {c.strip().lower() for c in first.split(",")}
    if "," in first and columns & set(VALUE_COLUMNS):
        return "csv"
    return "lines"


def decode(data: bytes) -> str:
    """The text of a hash list; ValueError for a file that is not text (an image, say)."""
    from chalicelib.signals.media import SNIFF_BYTES, sniff  # numpy, PIL: not for `--help`

    kind = sniff(data[:SNIFF_BYTES])
    if data[:SNIFF_BYTES].count(b"\0") or (kind.startswith("image/") and "svg" not in kind):
        what = kind if kind != "application/octet-stream" else "binary data"
        raise ValueError(f"not a list of hashes but {what}: pass the list, not the file itself")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text (byte {error.start}): save the list as UTF-8") from error


def parse(
    text: str, source: str = "import", fmt: str | None = None, signal_type: str | None = None
) -> Parsed:
    """Records from a list in any of the shapes (detected unless given). `signal_type` is
    the type of values whose line does not name one (--type). A line that cannot be imported
    (unknown type, bad value, ambiguous length, broken JSON line) is skipped with its reason
    and number; a JSON array that is not JSON raises ValueError."""
    text = text.removeprefix("\ufeff")  # a UTF-8 BOM, as spreadsheets write it
    fmt = fmt or detect(text)
    parsed = Parsed()
    if fmt in ("te", "lines"):
        for number, line in enumerate(text.splitlines(), start=1):
            if number == 1 and line.strip().lower() in VALUE_COLUMNS:
                continue  # a one-column CSV's header
            if line.strip() and not line.lstrip().startswith("#"):
                _line(parsed, line.strip(), number, source, signal_type)
        return parsed
    if fmt == "json":
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from error
        if not isinstance(rows, list):
            raise ValueError("a JSON file must hold an array of hashes or of objects")
        numbered = list(enumerate(rows, start=1))
    elif fmt == "jsonl":
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except json.JSONDecodeError as error:
                parsed.skip(f"not JSON ({error.msg})", number)
    else:
        reader = csv.DictReader(io.StringIO(text))
        # Header names as written by hand: any case, spaces around.
        reader.fieldnames = [(name or "").strip().lower() for name in reader.fieldnames or []]
        numbered = [(number, row) for number, row in enumerate(reader, start=2)]
    for number, row in numbered:
        if isinstance(row, str):
            _add(parsed, signal_type, row, (), source, number)
        elif isinstance(row, dict):
            _row(parsed, row, number, source, signal_type)
        else:
            parsed.skip(f"not a hash nor an object (a JSON {type(row).__name__})", number)
    return parsed


def _row(parsed: Parsed, row: dict, number: int, source: str, signal_type: str | None) -> None:
    labels = row.get("labels") or []
    if isinstance(labels, str):
        labels = [label.strip() for label in labels.split(";") if label.strip()]
    named = next((row[c] for c in TYPE_COLUMNS if row.get(c)), None)
    value = next((row[c] for c in VALUE_COLUMNS if row.get(c)), "")
    _add(
        parsed,
        str(named).strip().lower() if named else signal_type,
        str(value),
        tuple(str(label) for label in labels),
        str(row.get("source") or source),
        number,
    )


def _line(parsed: Parsed, line: str, number: int, source: str, signal_type: str | None) -> None:
    """`TYPE HASH` (ThreatExchange's), a bare hash, or a headerless `type,value,labels` row."""
    from chalicelib.signals import SIGNAL_TYPES  # numpy, PIL: not for `cordon --help`

    if "," in line:
        fields = [f.strip() for f in next(csv.reader([line]))]
        if fields[0].lower() in SIGNAL_TYPES or fields[0].lower() in TE_TO_CORDON:
            kind, value, rest = fields[0], fields[1] if len(fields) > 1 else "", fields[2:]
        else:
            kind, value, rest = "", fields[0], fields[1:]
        labels = tuple(x.strip() for x in (rest[0] if rest else "").split(";") if x.strip())
        row_source = rest[1] if len(rest) > 1 and rest[1] else source
    else:
        tokens = line.split()
        kind, value = (tokens[0], tokens[1]) if len(tokens) > 1 else ("", tokens[0])
        labels, row_source = (), source
        if len(tokens) > 1 and kind.lower() not in {*TE_TO_CORDON, *SIGNAL_TYPES}:
            if kind.isidentifier():
                parsed.skip(f"ThreatExchange type {kind!r} has no Cordon signal", number)
            else:
                parsed.skip("not `TYPE HASH` nor a hash", number, line)
            return
    kind = kind.lower()
    _add(parsed, TE_TO_CORDON.get(kind, kind) or signal_type, value, labels, row_source, number)


def _add(
    parsed: Parsed,
    signal_type: str | None,
    value: str,
    labels: tuple[str, ...],
    source: str,
    number: int,
) -> None:
    from chalicelib.signals import SIGNAL_TYPES

    value = value.strip()
    if not signal_type:
        signal_type, why = _type_by_form(value)
        if signal_type is None:
            parsed.skip(why, number, value)
            return
    if signal_type not in SIGNAL_TYPES:
        parsed.skip(f"unknown signal type {signal_type!r}", number)
        return
    try:
        canonical = SIGNAL_TYPES[signal_type].validate(value)
    except ValueError:
        parsed.skip(
            f"{signal_type} values are {SIGNAL_TYPES[signal_type].bits // 4} hex digits",
            number,
            value,
        )
        return
    parsed.records.append(
        HashRecord(signal_type=signal_type, value=canonical, labels=labels, source=source)
    )


def _type_by_form(value: str) -> tuple[str | None, str]:
    """The type a bare value's form names (md5: 32 hex, pHash: 16), or why there is none."""
    text = value.lower()
    if not text or any(c not in HEX for c in text):
        return None, "not a hash (hex digits expected)"
    if len(text) == 64:
        return None, AMBIGUOUS
    found = BY_LENGTH.get(len(text))
    if found is None:
        return None, "a length no hash type has (md5: 32 hex digits, phash: 16, pdq and sha256: 64)"
    return found, ""


def render(
    records: Iterable[HashRecord], fmt: str, exact_as_video: bool = False
) -> tuple[str, dict[str, int]]:
    """The list as text, and what could not be written in that format (by reason)."""
    skipped: dict[str, int] = {}
    out = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["signal_type", "value", "labels", "source", "case_id", "added_at"])
    for record in records:
        if fmt == "jsonl":
            out.write(
                json.dumps(
                    {
                        "signal_type": record.signal_type,
                        "value": record.value,
                        "labels": list(record.labels),
                        "source": record.source,
                        "case_id": record.case_id,
                        "added_at": record.added_at,
                        "status": record.status,
                        "confirmed_by": record.confirmed_by,
                        "visibility": record.visibility,
                        "groups": list(record.groups),
                        "variant": record.variant,
                    }
                )
                + "\n"
            )
        elif fmt == "csv":
            writer.writerow(
                [
                    record.signal_type,
                    record.value,
                    ";".join(record.labels),
                    record.source,
                    record.case_id or "",
                    record.added_at or "",
                ]
            )
        elif record.variant != "original":
            # A plain list cannot say it is a crop: another tool would act on it in full.
            why = "stored variant of a shared image (a crop or masked copy)"
            skipped[why] = skipped.get(why, 0) + 1
        else:
            te_type = (
                "pdq"
                if record.signal_type == "pdq"
                else (CORDON_TO_TE_EXACT.get(record.signal_type) if exact_as_video else None)
            )
            if te_type is None:
                why = f"{record.signal_type} has no ThreatExchange name"
                skipped[why] = skipped.get(why, 0) + 1
                continue
            out.write(f"{te_type} {record.value.lower()}\n")
    return out.getvalue(), skipped
