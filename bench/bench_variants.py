"""The match variants' cost per 1024x768 JPEG (`chalicelib.variants.variant_signals`).

    .venv/bin/python bench/bench_variants.py            # five passes (about a minute)
    .venv/bin/python bench/bench_variants.py --passes 1

For the photographs `bench/robustness.py` finds (PyWavelets', and scikit-image's when
installed) and 40 synthetic posters as they are, and for the photographs framed (black
border, letterbox, caption band, mirrored and then framed: the uploads whose trimmed or
caption-cut boxes are also hashed turned back, the costliest), each resized to 1024x768,
encoded as JPEG and decoded as the pipeline decodes it (decode excluded from the time): the
median and p90 milliseconds of `variant_signals`, in CPU time (`time.process_time`, the one
figure a loaded machine leaves roughly alone) and wall time, and the median number of variant
hashes (each is looked up with its complement: twice as many index probes). Target (issue 15):
<= 10 ms a 1024x768 image. Figures only, no pass/fail. OpenBLAS on one thread, as deployed.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import robustness

from chalicelib import variants
from chalicelib.signals.media import decode_image

Edit = Callable[[Image.Image], Image.Image]
FRAMED: dict[str, Edit] = {
    "border 10% black": robustness.border(0.10, (0, 0, 0)),
    "letterbox 15%": robustness.letterbox(0.15),
    "caption added 15% top": robustness.caption(0.15, over=False, top=True),
    "mirror + border 10% black": lambda im: robustness.border(0.10, (0, 0, 0))(ImageOps.mirror(im)),
}


def measure(label: str, pictures: list[Image.Image], edit: Edit, passes: int) -> None:
    decoded = [
        decode_image(
            robustness.jpeg(edit(p).resize((1024, 768), Image.LANCZOS)), robustness.MAX_PIXELS
        )
        for p in pictures
    ]
    cpu, wall, counts = [], [], []
    for _ in range(passes):
        for one in decoded:
            began_wall, began_cpu = time.perf_counter(), time.process_time()
            found = variants.variant_signals(one.image, one.full_size)
            cpu.append((time.process_time() - began_cpu) * 1e3)
            wall.append((time.perf_counter() - began_wall) * 1e3)
            counts.append(len(found))
    print(
        f"{label:<34} CPU median {statistics.median(cpu):5.2f} ms, p90 "
        f"{np.percentile(cpu, 90):5.2f}; wall median {statistics.median(wall):5.2f} ms, p90 "
        f"{np.percentile(wall, 90):5.2f}; {statistics.median(counts):.0f} variant hashes "
        f"({len(decoded)} pictures x {passes}; load {os.getloadavg()[0]:.1f})",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args(argv)
    photos = list(robustness.photographs().values())
    if not photos:
        print("no photographs found in installed packages (PyWavelets missing?)")
        return 1
    print(f"# variant_signals per 1024x768 JPEG, decode excluded ({os.cpu_count()} CPUs)")
    posters = list(robustness.posters(40).values())
    measure("as they are (photos and posters)", [*photos, *posters], lambda im: im, args.passes)
    for label, edit in FRAMED.items():
        measure(f"photos, {label}", photos, edit, args.passes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
