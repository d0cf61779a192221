"""Hash lists in and out of Cordon: JSON lines, CSV, and the plain list python-threatexchange's
`local_file` exchange reads (one `TYPE HASH` per line, lowercase hex).

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
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def detect(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("{"):
        return "jsonl"
    if first.lower().startswith("signal_type"):
        return "csv"
    return "te"


def parse(text: str, source: str = "import", fmt: str | None = None) -> Parsed:
    """Records from a list in any of the formats (detected unless given). A malformed value
    raises ValueError naming its line; a type Cordon has no name for is skipped."""
    fmt = fmt or detect(text)
    parsed = Parsed()
    if fmt == "te":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            te_type, _, value = line.strip().partition(" ")
            cordon_type = TE_TO_CORDON.get(te_type.lower())
            if cordon_type is None:
                parsed.skip(f"ThreatExchange type {te_type!r} has no Cordon signal")
                continue
            parsed.records.append(_record(cordon_type, value.strip(), (), source, number))
        return parsed
    rows = (
        [json.loads(line) for line in text.splitlines() if line.strip()]
        if fmt == "jsonl"
        else list(csv.DictReader(io.StringIO(text)))
    )
    for number, row in enumerate(rows, start=1):
        labels = row.get("labels") or []
        if isinstance(labels, str):
            labels = [label.strip() for label in labels.split(";") if label.strip()]
        signal_type = (row.get("signal_type") or "").strip().lower()
        parsed.records.append(
            _record(
                signal_type,
                str(row.get("value", "")),
                tuple(labels),
                row.get("source") or source,
                number,
            )
        )
    return parsed


def _record(
    signal_type: str, value: str, labels: tuple[str, ...], source: str, number: int
) -> HashRecord:
    from chalicelib.signals import SIGNAL_TYPES  # numpy, PIL: not for `cordon --help`

    if signal_type not in SIGNAL_TYPES:
        raise ValueError(f"line {number}: unknown signal type {signal_type!r}")
    try:
        canonical = SIGNAL_TYPES[signal_type].validate(value)
    except ValueError as error:
        raise ValueError(f"line {number}: {error}") from error
    return HashRecord(signal_type=signal_type, value=canonical, labels=labels, source=source)


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
