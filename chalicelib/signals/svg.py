"""SVG rasterised as a browser draws it in an <img>: no scripts, nothing fetched.

The document is parsed first with defusedxml (no entity is expanded, no external entity or DTD
is loaded), every reference to anything outside it is dropped (resvg would read a local file
named by an `href`), and what is left is drawn by resvg (Rust, no network code) at a bounded
size, over white as a page shows it. Pictures embedded as `data:` URIs are drawn.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
import resvg_py
from defusedxml import DefusedXmlException
from PIL import Image

# The long side an SVG is drawn at: PDQ works on 64x64 and pHash on 32x32, so more pixels
# add time, not accuracy.
RENDER_SIDE = 1024
# resvg's time grows with the elements drawn: a document with more is refused.
MAX_ELEMENTS = 50_000
_XLINK = "{http://www.w3.org/1999/xlink}href"
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px|pt|pc|mm|cm|in)?\s*$")
_PX_PER = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0}
# Elements whose content a browser may draw but a static render does not show.
_NOT_DRAWN = {"script": "scripts", "foreignObject": "embedded HTML (foreignObject)"}


class SvgRejected(Exception):
    """The SVG is not drawn; the message says why."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _length(value: str | None) -> float | None:
    match = _LENGTH.match(value or "")
    if not match:
        return None  # missing, a percentage, or em/ex: taken from the viewBox instead
    return float(match.group(1)) * _PX_PER[match.group(2) or "px"]


def intrinsic_size(root: ET.Element) -> tuple[float, float]:
    """The size the SVG declares (width/height, else its viewBox), in CSS pixels."""
    width, height = _length(root.get("width")), _length(root.get("height"))
    box = [float(v) for v in re.split(r"[\s,]+", (root.get("viewBox") or "").strip()) if v]
    if len(box) == 4 and box[2] > 0 and box[3] > 0:
        if width is None and height is None:
            width, height = box[2], box[3]
        elif width is None:
            width = height * box[2] / box[3]  # type: ignore[operator]
        elif height is None:
            height = width * box[3] / box[2]
    return (width or 300.0, height or 150.0)  # a browser's default replaced-element size


def rasterise(data: bytes, notes: list[str], problems: list[str]) -> bytes:
    """PNG bytes of the SVG as drawn; what it could not draw goes to `notes` or `problems`."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise SvgRejected(f"entity or external reference refused ({error!r})") from error
    except ET.ParseError as error:
        raise SvgRejected(f"not well-formed XML: {error}") from error
    dropped = 0
    hidden: set[str] = set()
    for count, element in enumerate(root.iter(), start=1):
        if count > MAX_ELEMENTS:
            raise SvgRejected(f"more than {MAX_ELEMENTS:,} elements")
        if _local(element.tag) in _NOT_DRAWN:
            hidden.add(_NOT_DRAWN[_local(element.tag)])
        for name in ("href", _XLINK):
            target = (element.get(name) or "").strip()
            if target and not target.startswith(("#", "data:")):
                del element.attrib[name]
                dropped += 1
    if dropped:
        notes.append(f"SVG: {dropped} external reference(s) not fetched, as in an <img>")
    if hidden:
        problems.append(f"SVG with {' and '.join(sorted(hidden))}: drawn without them")
    width, height = intrinsic_size(root)
    target = max(1, round(RENDER_SIDE * width / max(width, height)))
    try:
        png = resvg_py.svg_to_bytes(
            svg_string=ET.tostring(root, encoding="unicode"),
            width=target,
            skip_system_fonts=True,
        )
    except ValueError as error:
        raise SvgRejected(f"resvg could not draw it: {error}") from error
    drawn = Image.open(io.BytesIO(bytes(png)))
    page = Image.new("RGB", drawn.size, "white")
    page.paste(drawn, mask=drawn.getchannel("A") if drawn.mode == "RGBA" else None)
    out = io.BytesIO()
    page.save(out, "PNG", compress_level=1)
    return out.getvalue()
